"""MNIST training code that Azure ML jobs upload (`code: ../src/training`) and run.

Everything here depends only on numpy, scikit-learn, matplotlib and mlflow, so the folder runs
unchanged in the cloud environment (jobs/environment/conda.yml) and on a laptop.
"""
