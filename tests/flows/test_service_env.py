"""The environment a process gets for Prefect's API."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from flows.service import plain_http_env
from models.settings import Settings


def test_plain_http_api_gets_a_one_certificate_bundle(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """
    GIVEN the local Prefect server on plain HTTP, an HTTPS server, and an operator's own bundle
    WHEN the environment for Prefect's client is made
    THEN plain HTTP gets a bundle of one certificate that loads as a CA file (written once,
    under the data dir); HTTPS and an operator's setting are left alone
    """
    monkeypatch.delenv("PREFECT_API_SSL_CERT_FILE", raising=False)
    settings = Settings(data_dir=tmp_path)
    env = plain_http_env("http://127.0.0.1:4200/api", settings)
    bundle = Path(env["PREFECT_API_SSL_CERT_FILE"])
    assert bundle.is_relative_to(tmp_path.resolve())
    assert bundle.read_text().count("BEGIN CERTIFICATE") == 1
    ctx = ssl.create_default_context(cafile=str(bundle))
    assert len(ctx.get_ca_certs()) == 1
    assert plain_http_env("http://127.0.0.1:4200/api", settings) == env  # the same file again
    assert plain_http_env("https://prefect.example.org/api", settings) == {}
    monkeypatch.setenv("PREFECT_API_SSL_CERT_FILE", "/etc/ssl/office-ca.pem")
    assert plain_http_env("http://127.0.0.1:4200/api", settings) == {}
