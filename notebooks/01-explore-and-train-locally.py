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
# # 01 MNIST を調べてローカルで学習する / Explore MNIST and train locally
#
# 手書き数字のデータセット MNIST（28×28 ピクセルの画像 70,000 枚、0〜9 のラベル付き）を
# ダウンロードして中身を確かめ、最初のモデルとしてロジスティック回帰をこのマシンで学習します。
# 2019 年版ハンズオンの「単純なロジスティック回帰モデル」の演習にあたります。
#
# We download MNIST (70,000 handwritten digits, 28x28 pixels, labelled 0-9), look at it,
# and train a first model, a logistic regression, right here: the 2019 hands-on's
# "simple logistic regression" exercise.
#
# 1. データを取得する / fetch the data
# 2. 読み込んで 30 枚を表示する / load it and look at 30 digits
# 3. ロジスティック回帰を学習する / train the logistic regression
# 4. 精度と混同行列 / accuracy and the confusion matrix

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
# ## 1. MNIST を取得する / Fetch MNIST
#
# 2019 年版では `urllib` で元のサイトから 4 つの `.gz` ファイルを直接ダウンロードしていました。
# そのサイトはいまスクリプトからのダウンロードを拒むことが多いため、ここでは
# `workshop data fetch` と同じ関数を使います。複数のミラー（Azure Open Datasets など）を順に試し、
# 公開されている MD5 で各ファイルを検証し、壊れたファイルを残しません。
# すでにファイルがあれば何もしません。
#
# The 2019 version downloaded the four `.gz` files from the original site with `urllib`; that
# site now often refuses scripted downloads. We use the function behind
# `workshop data fetch`: it tries several mirrors (Azure Open Datasets first), checks each
# file's published MD5 and never leaves a half-written file. Files already there are kept.

# %%
from mnist_trainer.idx import FILES

from workshop.mnist.fetch import fetch_mnist

DATA = data_cache()
if all((DATA / name).is_file() for name in FILES.values()):
    print("MNIST already in", DATA)
else:
    fetch_mnist(DATA)
for name in FILES.values():
    print(f"{name:30s} {(DATA / name).stat().st_size:>12,d} bytes")

# %% [markdown]
# ## 2. データを読み込む / Load the data
#
# MNIST は IDX という単純なバイナリ形式です（ビッグエンディアンのヘッダーと `uint8` の並び）。
# `load_mnist` はヘッダーのマジック番号と次元を検証してから NumPy 配列を返します。
# 学習用 60,000 枚・テスト用 10,000 枚に最初から分かれています。各画像は 784 (=28×28) 個の
# 0〜255 の値で、モデルには 255 で割って 0〜1 にした値を渡します（学習が収束しやすくなります）。
#
# MNIST comes in IDX, a simple binary format (a big-endian header, then `uint8` values).
# `load_mnist` checks the magic number and dimensions, then returns NumPy arrays, already
# split into 60,000 training and 10,000 test images. Each image is 784 (28x28) values 0-255;
# the models get them divided by 255 (0-1), which helps the optimiser converge.

# %%
import numpy as np
from mnist_trainer.idx import load_mnist

mnist = load_mnist(DATA)
print("train:", mnist.x_train.shape, mnist.y_train.shape, mnist.x_train.dtype)
print("test: ", mnist.x_test.shape, mnist.y_test.shape)
print("digits per label (train):", np.bincount(mnist.y_train, minlength=10).tolist())

# %% [markdown]
# ### 30 枚の数字を見る / Look at 30 digits
#
# ランダムに選んだ 30 枚の学習画像を、正解ラベルと一緒に表示します。
# 読み込みが正しいか、どんなデータなのかを目で確かめるための一歩です。
#
# Thirty random training images with their labels: a quick check that the data loaded
# correctly, and a first feel for what the model will see.

# %%
import matplotlib.pyplot as plt

rng = np.random.default_rng(seed=7)
picks = rng.choice(len(mnist.x_train), size=min(30, len(mnist.x_train)), replace=False)
fig, axes = plt.subplots(3, 10, figsize=(12, 4.4))
for ax in axes.flat:
    ax.axis("off")
for ax, i in zip(axes.flat, picks, strict=False):
    ax.imshow(mnist.x_train[i].reshape(28, 28), cmap="Greys")
    ax.set_title(str(mnist.y_train[i]), fontsize=15)
fig.suptitle("30 training digits and their labels")
plt.show()

# %% [markdown]
# ## 3. ロジスティック回帰を学習する / Train the logistic regression
#
# ロジスティック回帰は、入力（784 個のピクセル値）から各クラス（0〜9）の確率を出す線形の
# 分類モデルです。2019 年版はノートブックの中で scikit-learn を直接呼び出していました。
# ここでは **Azure ML のジョブ定義 `jobs/train-logreg.yml` をそのまま** ローカルで実行します
# （`workshop run jobs/train-logreg.yml` と同じ）。同じ YAML を `az ml job create -f` で
# クラスターに送れば、同じコードが同じ引数で動きます。学習スクリプトは MLflow でパラメーター・
# 精度・図を記録し、学習済みモデルを MLflow モデルとして保存します。
#
# A logistic regression is a linear classifier that turns the 784 pixel values into a
# probability for each digit. The 2019 notebook called scikit-learn inline; here we run
# **the Azure ML job definition `jobs/train-logreg.yml` itself** on this machine (what
# `workshop run jobs/train-logreg.yml` does). Submitted with `az ml job create -f`, the same
# YAML runs the same code with the same arguments on the cluster. The script logs its
# parameters, accuracy and figures with MLflow and saves the fitted model as an MLflow model.
#
# フル MNIST では 2 コアで 1〜2 分かかります / about 1-2 minutes on 2 cores with full MNIST.

# %%
print((JOBS_DIR / "train-logreg.yml").read_text(encoding="utf-8"))

# %%
from rich.console import Console

from workshop.runner import RunOptions, run_job
from workshop.runner.report import print_report

logreg = run_job(JOBS_DIR / "train-logreg.yml", RunOptions())
print_report(logreg, Console())
if not logreg.ok:
    raise RuntimeError(f"train-logreg ended {logreg.status}: {logreg.error}")
print(f"test accuracy: {logreg.metrics['accuracy']:.4f}")

# %% [markdown]
# ## 4. 精度と混同行列 / Accuracy and the confusion matrix
#
# 保存されたモデルを読み込み、テスト画像 10,000 枚を予測します。精度（正解の割合）だけでは
# どの数字を間違えやすいかは分かりません。混同行列は「正解の数字（行）」と「予測した数字（列）」の
# 組み合わせを数えた表で、対角線の外にある数が誤りです（たとえば 4 と 9、3 と 5 の取り違え）。
#
# We load the saved model and predict the 10,000 test images. Accuracy alone does not say
# which digits get confused; the confusion matrix counts every (true digit, predicted digit)
# pair, and everything off the diagonal is a mistake (4 read as 9, 5 as 3, ...).

# %%
import mlflow.sklearn
from mnist_trainer.common import scaled
from sklearn.metrics import ConfusionMatrixDisplay, accuracy_score, confusion_matrix

model = mlflow.sklearn.load_model(logreg.outputs["model"])
predicted = model.predict(scaled(mnist.x_test))
print(f"accuracy: {accuracy_score(mnist.y_test, predicted):.4f}")

matrix = confusion_matrix(mnist.y_test, predicted, labels=list(range(10)))
print(matrix)
ConfusionMatrixDisplay(matrix, display_labels=list(range(10))).plot(cmap="Blues")
plt.title("logistic regression: true (rows) vs predicted (columns)")
plt.show()

# %% [markdown]
# ### 記録を見る / Where the run is recorded
#
# 学習の記録（パラメーター、精度、混同行列とサンプル画像の PNG、モデル）は実験
# `amls-learn-experiment` の実行として残ります。ローカルでは `.workshop/` の MLflow ストアに、
# Azure ML のジョブではワークスペースに記録されます。ローカルの記録は次のコマンドで MLflow UI から
# 見られます。この精度はノートブック 02 でクラスターの結果と比べます。
#
# The run (parameters, accuracy, the confusion-matrix and sample-digit PNGs, the model) is
# recorded under the experiment `amls-learn-experiment`: locally in the MLflow store under
# `.workshop/`, in the workspace for Azure ML jobs. The command below opens the local one in
# the MLflow UI. Notebook 02 compares this accuracy with the cluster's results.

# %%
from workshop.runner.tracking import ui_command

print("MLflow run id:", logreg.run_id)
print("model folder: ", logreg.outputs["model"])
print("MLflow UI:    ", ui_command())
nb.save_state(logreg_accuracy=logreg.metrics["accuracy"])

# %% [markdown]
# ## 5. (azure) ワークスペースを確かめる / (azure) Check the workspace
#
# ロジスティック回帰はどちらのモードでもこのマシン（Studio ではコンピューティング インスタンス）で
# 学習しました。次のノートブックではクラスターを使います。`azure` モードでは、ワークスペースに
# 接続し、講師の Pulumi プログラムが用意したデータ資産 `mnist:1`（2019 年版で
# `ds.upload` していた MNIST）とクラスター `cpu-cluster` があることを確かめます。
#
# The logistic regression trained on this machine in both modes (the compute instance, in
# Studio). The next notebook uses the cluster. In `azure` mode we connect and check that the
# data asset `mnist:1` (the MNIST upload the 2019 hands-on did with `ds.upload`) and the
# cluster `cpu-cluster`, both created by the operator's Pulumi program, are there.

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

# %%
if MODE == "azure":
    data_asset = ml_client.data.get("mnist", version="1")
    print("data asset:", data_asset.id, "->", data_asset.path)
    cluster = ml_client.compute.get("cpu-cluster")
    nodes = f"{cluster.min_instances}-{cluster.max_instances} nodes"
    print("cluster:", cluster.name, cluster.size, nodes)

# %% [markdown]
# ## まとめ / Summary
#
# MNIST を取得して確かめ、ジョブ定義と同じ YAML でロジスティック回帰を学習し、精度と混同行列を
# 見ました。次は `02-run-on-the-cluster.ipynb` で、kNN の k の探索をクラスターで実行します。
#
# We fetched and inspected MNIST, trained a logistic regression from the same YAML Azure ML
# runs, and read its accuracy and confusion matrix. Next: `02-run-on-the-cluster.ipynb`
# searches k for kNN on the cluster.
