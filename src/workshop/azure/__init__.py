"""The cloud path: resolve a workspace, check a subscription, submit, deploy, warm up, smoke-test.

Everything here talks to Azure through azure-ai-ml, azure-identity and plain ARM REST calls, and
is imported only inside the `workshop` cloud commands so `workshop --help` stays fast.
"""
