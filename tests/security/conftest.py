"""pytest fixtures of the security suite; the helpers themselves are in sectools.py."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sectools import clients, make_pki  # noqa: E402,F401  (clients is a fixture)


@pytest.fixture(scope="session")
def pki():
    """The certificates (pki.py): SEC_PKI_DIR when ctest made them, else made here."""
    return make_pki()
