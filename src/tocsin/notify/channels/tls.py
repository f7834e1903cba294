"""``tls_config`` as an :class:`ssl.SSLContext`, shared by the HTTP and SMTP channels.

Follows Prometheus' ``common/config`` TLS settings: CA (file or inline PEM), client
certificate and key (files or inline), ``insecure_skip_verify`` and the TLS version
bounds. ``server_name`` (SNI override) and the ``*_ref`` secret references are not
supported by Python's clients here and are ignored.
"""

from __future__ import annotations

import os
import ssl
import tempfile

from tocsin.config.common import TLSConfig

__all__ = ["ssl_context"]

_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}


def ssl_context(tls: TLSConfig | None) -> ssl.SSLContext:
    """A client context verifying peers unless ``insecure_skip_verify`` is set.

    Raises OSError/ssl.SSLError for unreadable or invalid certificate material.
    """
    tls = tls or TLSConfig()
    context = ssl.create_default_context(
        cafile=tls.ca_file or None,
        cadata=tls.ca or None,
    )
    if tls.insecure_skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if tls.min_version in _VERSIONS:
        context.minimum_version = _VERSIONS[tls.min_version]
    if tls.max_version in _VERSIONS:
        context.maximum_version = _VERSIONS[tls.max_version]
    if tls.cert_file and tls.key_file:
        context.load_cert_chain(tls.cert_file, tls.key_file)
    elif tls.cert and tls.key:
        _load_inline_chain(context, tls.cert, str(tls.key))
    return context


def _load_inline_chain(context: ssl.SSLContext, cert: str, key: str) -> None:
    # The ssl module only loads a chain from files: write a private temporary file
    # (mode 0600 by mkstemp) and remove it at once.
    handle, path = tempfile.mkstemp(suffix=".pem")
    try:
        with os.fdopen(handle, "w") as out:
            out.write(cert.rstrip("\n") + "\n" + key)
        context.load_cert_chain(path)
    finally:
        os.unlink(path)
