"""Alephdraad feature-service: replies, reactions, wallets, chat, documents and moderation."""

__version__ = "0.1.0"
