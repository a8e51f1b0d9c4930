"""Lookbook training: dual-encoder model, export, tokenizers, preprocessing, fixtures."""
