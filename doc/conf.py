# SPDX-License-Identifier: BSD-3-Clause
# Sphinx configuration: sphinx-build -b html doc build/doc (Debian: python3-sphinx).
project = 'vsock-switch'
copyright = '2026, The vsock-switch authors'
master_doc = 'index'
exclude_patterns = []
html_theme = 'alabaster'
