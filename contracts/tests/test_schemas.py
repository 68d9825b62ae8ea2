import pytest

from alephdraad_contracts import SCHEMAS_DIR, load_schema


def test_every_shipped_schema_loads() -> None:
    names = sorted(p.name.removesuffix(".schema.json") for p in SCHEMAS_DIR.glob("*.schema.json"))
    assert "problem" in names
    for name in names:
        assert load_schema(name)["$schema"].startswith("https://json-schema.org/")


@pytest.mark.parametrize("name", ["../x", "a/b", "a\\b", ".hidden"])
def test_path_like_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="not a schema name"):
        load_schema(name)
