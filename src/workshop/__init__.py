"""aml-workshop: the Azure ML MNIST hands-on as job specs and infrastructure-as-code."""

__version__ = "0.1.0"
