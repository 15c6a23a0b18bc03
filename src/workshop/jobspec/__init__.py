"""Reading Azure ML CLI v2 specs: one place below both `workshop validate` and `workshop run`.

yamlread (YAML with an alias-bomb guard), kinds (what a file is), expressions (the `${{...}}`
grammar and pipeline step order), references (`azureml:` names, `file:` paths), sdkload
(azure-ai-ml's loader per kind), upload (which code files Azure ML uploads), conda and envlock
(an environment's conda file and its content version).
"""
