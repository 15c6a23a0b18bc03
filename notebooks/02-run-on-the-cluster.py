# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3.11 (aml-workshop)
#     language: python
#     name: aml-workshop
# ---

# %% [markdown]
# # 02 クラスターで実行する / Run on the cluster
#
# k 近傍法 (kNN) は、テスト画像に最も近い k 枚の学習画像の多数決でラベルを決めます。
# k の選び方で精度が変わるので、いくつかの k を試して最良のものを選びます。
# 2019 年版では Estimator で `train.py` をクラスターに送り、HyperDrive は扱いませんでした。
# Azure ML v2 では **コマンド ジョブ**（`jobs/train-knn.yml`）と **スイープ ジョブ**
# （`jobs/sweep-knn.yml`、HyperDrive の後継）を YAML のまま送信します。
#
# k-nearest neighbours (kNN) labels a test image by a vote of the k closest training
# images; accuracy depends on k, so we try several and keep the best. The 2019 hands-on sent
# `train.py` to the cluster with an Estimator and left HyperDrive out. In Azure ML v2 we
# submit a **command job** (`jobs/train-knn.yml`) and a **sweep job** (`jobs/sweep-knn.yml`,
# HyperDrive's successor) straight from their YAML.
#
# **実行と実験 / runs and experiments**: ジョブ（実行）は 1 回の学習やチューニングで、メトリックと
# 出力を記録します。実験は実行をまとめて比べるための名前です（ここでは `amls-learn-experiment`）。
#
# A job (run) is one training or tuning task that records metrics and outputs; an experiment
# groups runs so they can be compared (here `amls-learn-experiment`).

# %% [markdown]
# ## カーネル / Kernel
#
# カーネルは **Python 3.11 (aml-workshop)** を選びます（Studio では右上のカーネル名から）。
# ワークショップで固定したパッケージ（`requirements/lock.txt`）がすべて入った Python
# です。次のセルは違うカーネルで実行されるとはっきり止まり、直し方を表示します。
#
# Pick the kernel **Python 3.11 (aml-workshop)** (in Studio: the kernel name at the top
# right). It is Python 3.11 with exactly the workshop's pinned packages
# (`requirements/lock.txt`); the next cell stops with the fix if another kernel runs it.

# %%
# カーネルの確認 / check the kernel: Python 3.11 with the workshop's pinned packages
import sys
from importlib import metadata

KERNEL = "Python 3.11 (aml-workshop)"
NEEDED = ("numpy", "scikit-learn", "mlflow", "skops", "rich", "typer", "azure-ai-ml")
missing = []
for package in NEEDED:
    try:
        metadata.version(package)
    except metadata.PackageNotFoundError:
        missing.append(package)
if sys.version_info[:2] != (3, 11) or missing:
    raise RuntimeError(
        f"wrong kernel: Python {sys.version.split()[0]} at {sys.executable}"
        + (f", without {', '.join(missing)}" if missing else "")
        + f". Pick the kernel '{KERNEL}' (Kernel > Change kernel) and run this cell again. "
        "Not in the list? Build it once: in a terminal, in the aml-workshop folder, run "
        "bash notebooks/workshop-kernel.sh (README.md, 'The Studio kernel'). "
        "違うカーネルです: 上の名前のカーネルを選んでください。"
    )
print(f"kernel OK: Python {sys.version.split()[0]} ({sys.executable})")

# %% [markdown]
# ## 0. モードを選ぶ / Choose the mode
#
# 次のセルの `MODE` がこのノートブックで唯一の設定です。`"local"`（既定）は Azure なしで
# このマシン上ですべてを実行します。`"azure"` はワークスペースのクラスターとエンドポイントを
# 使います。どちらでも同じ `jobs/*.yml` を使うので、結果を見比べられます。
#
# `MODE` in the next cell is this notebook's only setting. `"local"` (the default) runs
# everything on this machine with no Azure; `"azure"` uses the workspace's cluster and
# endpoints. Both run the same `jobs/*.yml`, so their results compare directly.

# %%
# ← ここだけ変更 / the one setting:
#   "local": このマシンで実行 (workshop run, workshop serve, ローカル MLflow) / on this machine
#   "azure": config.json のワークスペースで実行 / on the workspace in config.json
MODE = "local"

# %%
import sys
from pathlib import Path

# リポジトリのルート (jobs/ と src/ がある場所) を探す / find the repository root
ROOT = next(
    (p for p in (Path.cwd(), *Path.cwd().parents) if (p / "jobs" / "train-knn.yml").is_file()),
    None,
)
if ROOT is None:
    raise FileNotFoundError(
        f"jobs/train-knn.yml not found above {Path.cwd()}: open this notebook from the "
        "aml-workshop folder (its notebooks/ subfolder)"
    )
for folder in (ROOT / "src", ROOT / "src" / "training"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

# このカーネルのパッケージは requirements/lock.txt と同じか / same versions as the lock?
lock = (ROOT / "requirements" / "lock.txt").read_text(encoding="utf-8").split()
pins = dict(line.split("==", 1) for line in lock if "==" in line)
stale = [
    f"{p} {metadata.version(p)} (lock: {pins[p]})" for p in NEEDED if metadata.version(p) != pins[p]
]
if stale:
    raise RuntimeError(
        f"this kernel's packages differ from requirements/lock.txt: {', '.join(stale)}. "
        "Rebuild the kernel: bash notebooks/workshop-kernel.sh, then restart it."
    )

# %%
from workshop import notebook_support as nb
from workshop.paths import JOBS_DIR, data_cache, runs_dir

nb.check_mode(MODE)
print(f"MODE={MODE}  root={ROOT}")
print(f"data={data_cache()}  runs={runs_dir()}  small={nb.small()}")

# %% [markdown]
# ### ワークスペースに接続する / Connect to the workspace
#
# `azure` モードでは、講師から配布された `config.json`（サブスクリプション ID、リソース グループ、
# ワークスペース名だけが書かれたファイル。キーやパスワードは含みません）をこのノートブックと同じ
# フォルダーかその上に置きます。`MLClient.from_config` がそれを探し、`DefaultAzureCredential` が
# サインイン済みのアカウント（Studio のコンピューティング インスタンスではそのユーザー、
# ノート PC では `az login`）で認証します。2019 年版の `Workspace.from_config()` にあたる手順です。
#
# In `azure` mode, put the `config.json` from your handout (subscription id, resource group and
# workspace name only: no keys) next to this notebook or in a folder above it.
# `MLClient.from_config` finds it and `DefaultAzureCredential` signs in as you (the compute
# instance's user in Studio, `az login` on a laptop).
# This replaces SDK v1's `Workspace.from_config()`.

# %%
if MODE == "azure":
    from azure.ai.ml import MLClient
    from azure.identity import DefaultAzureCredential

    credential = DefaultAzureCredential()
    ml_client = MLClient.from_config(credential)
    print("workspace:", ml_client.workspace_name, "in", ml_client.resource_group_name)
else:
    from workshop.runner.tracking import ui_command

    print("local mode: jobs run on this machine; MLflow store under", runs_dir())
    print("see every run with:", ui_command())

# %% [markdown]
# ## 1. kNN のコマンド ジョブ / The kNN command job
#
# YAML の `command` がクラスターのノードで実行されるコマンド、`code` がアップロードされるフォルダー
# （学習コードだけ）、`inputs.mnist` がデータ資産、`compute` がクラスター、`environment` が
# scikit-learn と MLflow 入りの環境です。`kmax`・`kinterval` は 2019 年版の `train.py` と同じ
# 意味で、k = 1, 3, …, 13 を試します。近傍の検索を最大の k について一度だけ行い、そこから全ての k を
# 採点するので、k ごとに学習し直す 2019 年版より何倍も速く、予測は同じです。
#
# `command` is what runs on a cluster node, `code` the folder uploaded with it (training code
# only), `inputs.mnist` the data asset, `compute` the cluster, `environment` the image with
# scikit-learn and MLflow. `kmax` and `kinterval` mean what they meant in the 2019
# `train.py` (k = 1, 3, ..., 13). The neighbours are searched once, for the largest k, and
# every k is scored from that list: many times faster than refitting per k, same predictions.

# %%
print((JOBS_DIR / "train-knn.yml").read_text(encoding="utf-8"))

# %% [markdown]
# ### 送信して監視する / Submit and monitor
#
# `azure`: `load_job` で YAML を読み、`ml_client.jobs.create_or_update` で送信し、
# `ml_client.jobs.stream` でログを流しながら終了を待ちます（2019 年版の `experiment.submit` と
# `RunDetails` にあたります）。最初の実行では環境のイメージ作成とノードの起動に数分かかります。
# `local`: 同じ YAML をローカルのランナーで実行します。
#
# `azure`: `load_job` reads the YAML, `ml_client.jobs.create_or_update` submits it and
# `ml_client.jobs.stream` follows its log until it ends (SDK v1's `experiment.submit` and
# `RunDetails`). The first job waits a few minutes for the image build and a node.
# `local`: the local runner runs the same YAML.

# %%
from rich.console import Console

from workshop.runner import RunOptions, run_job
from workshop.runner.report import print_report
from workshop.runner.tracking import store_uri

if MODE == "azure":
    from azure.ai.ml import load_job

    from workshop.azure.jobs import MlflowMetrics, report

    knn_job = ml_client.jobs.create_or_update(load_job(JOBS_DIR / "train-knn.yml"))
    print("submitted:", knn_job.name, "\nStudio:", knn_job.studio_url)
    ml_client.jobs.stream(knn_job.name)
    knn_job = ml_client.jobs.get(knn_job.name)
    if knn_job.status != "Completed":
        raise RuntimeError(f"train-knn ended {knn_job.status}: see {knn_job.studio_url}")
    tracking = nb.azure_tracking_uri(ml_client, credential)
    knn_metrics = report(knn_job, MlflowMetrics(tracking)).metrics
    knn_run_id = knn_job.name  # an Azure ML job's name is its MLflow run id
else:
    knn = run_job(JOBS_DIR / "train-knn.yml", RunOptions(overrides=nb.knn_overrides(MODE)))
    print_report(knn, Console())
    if not knn.ok:
        raise RuntimeError(f"train-knn ended {knn.status}: {knn.error}")
    tracking, knn_metrics, knn_run_id = store_uri(), knn.metrics, knn.run_id
print(f"best k = {int(knn_metrics['best_k'])}, accuracy = {knn_metrics['accuracy']:.4f}")

# %% [markdown]
# ### k ごとの精度 / Accuracy for each k
#
# 学習スクリプトは k ごとの精度を、
# MLflow のメトリック `accuracy_k`（ステップ = k）として記録しました。
#
# The script logged each k's accuracy as the MLflow metric `accuracy_k` (step = k).

# %%
import matplotlib.pyplot as plt

by_k = nb.accuracy_by_k(tracking, knn_run_id)
for k, acc in by_k.items():
    print(f"k={k:2d}  accuracy {acc:.4f}")
plt.plot(list(by_k), list(by_k.values()), marker="o")
plt.xlabel("k")
plt.ylabel("test accuracy")
plt.title("kNN: accuracy for each k")
plt.grid(alpha=0.3)
plt.show()

# %% [markdown]
# ## 2. ハイパーパラメーターのスイープ / The hyperparameter sweep
#
# k のように学習の前に決めておく値をハイパーパラメーターと呼びます。候補を総当たりで試す方法が
# グリッド検索です。2019 年版で紹介だけした HyperDrive は、
# v2 では **スイープ ジョブ** になりました。
# `jobs/sweep-knn.yml` は k（7 通り）と入力の表現（生のピクセル / PCA で 50 次元に圧縮）の
# 14 通りを、1 通りずつ別の試行（トライアル）としてクラスターの最大 3 ノードで並行に実行し、
# `objective`（`accuracy` の最大化）で最良の試行を選びます。
#
# Values fixed before training, like k, are hyperparameters; trying every candidate is a grid
# search. HyperDrive, which the 2019 hands-on only mentioned, is a **sweep job** in v2.
# `jobs/sweep-knn.yml` runs the 14 combinations of k (7 values) and the input representation
# (raw pixels, or PCA down to 50 dimensions) as separate trials, up to 3 at a time on the
# cluster, and picks the best by its `objective` (maximise `accuracy`).
#
# `local` では時間を抑えるため、`workshop demo` と同じく PCA-50 の k = 1, 3, 5 だけを試します
# （生のピクセルの k は上の train-knn で採点済み）。
#
# Locally, to keep it short, we sweep k = 1, 3, 5 on PCA-50 only, as `workshop demo` does
# (train-knn above already scored raw pixels for every k).

# %%
print((JOBS_DIR / "sweep-knn.yml").read_text(encoding="utf-8"))

# %%
if MODE == "azure":
    sweep_job = ml_client.jobs.create_or_update(load_job(JOBS_DIR / "sweep-knn.yml"))
    print("submitted:", sweep_job.name, "\nStudio:", sweep_job.studio_url)
    ml_client.jobs.stream(sweep_job.name)
    sweep_job = ml_client.jobs.get(sweep_job.name)
    if sweep_job.status != "Completed":
        raise RuntimeError(f"sweep ended {sweep_job.status}: see {sweep_job.studio_url}")
    tracking = nb.azure_tracking_uri(ml_client, credential)  # fresh token: sweeps take long
    sweep = report(sweep_job, MlflowMetrics(tracking))
    if sweep.best_trial is None:
        raise RuntimeError(f"no trial logged accuracy: see {sweep_job.studio_url}")
    best_params = sweep.best_trial.params
    best_accuracy = sweep.best_trial.metrics["accuracy"]
    best_trial = sweep.best_trial.run_id  # also the trial job's name
    print(f"{sweep.trials} trials")
else:
    sweep_overrides = nb.sweep_overrides(MODE)
    sweep_run = run_job(JOBS_DIR / "sweep-knn.yml", RunOptions(overrides=sweep_overrides))
    print_report(sweep_run, Console())
    best = sweep_run.best_child()
    if best is None:
        raise RuntimeError(f"the sweep ended {sweep_run.status} with no successful trial")
    best_params, best_accuracy = best.params, best.metrics["accuracy"]
    best_trial = best.outputs["model"]  # the best trial's model folder
print("best trial:", best_params, f"accuracy {best_accuracy:.4f}")

# %% [markdown]
# ## 3. ローカルの結果と比べる / Compare with the local result
#
# ノートブック 01 でローカルに学習したロジスティック回帰、kNN ジョブ、スイープの最良の試行を
# 並べます。最も精度の高いモデルをノートブック 03 でデプロイします。
#
# The logistic regression trained locally in notebook 01, the kNN job and the sweep's best
# trial side by side; notebook 03 deploys the most accurate model.

# %%
local_logreg = nb.latest_local_run("train-logreg")
rows = []
if local_logreg is None:
    print("no local train-logreg run yet: run notebook 01 to add it to the comparison")
else:
    rows.append(("logistic regression (01, local)", local_logreg["metrics"]["accuracy"]))
where = "cluster" if MODE == "azure" else "local"
rows.append((f"kNN, k={int(knn_metrics['best_k'])} raw ({where})", knn_metrics["accuracy"]))
params = ", ".join(f"{k}={v}" for k, v in best_params.items())
rows.append((f"sweep best: {params} ({where})", best_accuracy))
for name, accuracy in sorted(rows, key=lambda row: -row[1]):
    print(f"{accuracy:.4f}  {name}")

# %% [markdown]
# ## 4. Studio で見る / Open it in Studio
#
# `azure`: 下のリンクから Azure ML Studio でジョブを開くと、ログ、メトリック、図、スイープの
# 全試行の比較が見られます（2019 年版の `run.get_portal_url()` にあたります）。
# `local`: 同じ情報は MLflow UI で見られます。
#
# `azure`: the links open the jobs in Azure ML Studio: logs, metrics, plots and every
# trial of the sweep side by side (SDK v1's `run.get_portal_url()`). `local`: the MLflow UI
# shows the same.

# %%
if MODE == "azure":
    print("train-knn:", knn_job.studio_url)
    print("sweep:    ", sweep_job.studio_url)
    nb.save_state(best_trial_job=best_trial, best_accuracy=best_accuracy)
else:
    from workshop.runner.tracking import ui_command

    print("MLflow UI:", ui_command())
    nb.save_state(best_model_dir=best_trial, best_accuracy=best_accuracy)

# %% [markdown]
# ## まとめ / Summary
#
# 同じ YAML をクラスター（またはローカル）で実行し、ログを追い、メトリックから最良の k と表現を
# 読み取り、ローカルの結果と比べました。次は `03-deploy-and-score.ipynb` で最良のモデルを
# 登録してエンドポイントにデプロイします。
#
# We ran the same YAMLs on the cluster (or locally), followed their logs, read the best k and
# representation from the metrics and compared them with the local result. Next:
# `03-deploy-and-score.ipynb` registers the best model and deploys it to an endpoint.
