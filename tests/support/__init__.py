"""Helpers the tests share: PDFs made here, real PDFs fetched, stand-in and real servers,
the local scheduler and database."""
