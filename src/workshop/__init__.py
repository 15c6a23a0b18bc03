"""aml-workshop: the Azure ML MNIST hands-on as job specs and infrastructure-as-code.

The version has one source, pyproject.toml; `workshop --version` reads it from the installed
package's metadata.
"""
