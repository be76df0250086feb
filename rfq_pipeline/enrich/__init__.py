"""Buyer enrichment: company names and domains, contacts, e-mail verification, an SSRF guard, and a risk score."""
