# ruff: noqa: E501  (Japanese lines count double in width)
"""Writes notebooks/0*.ipynb from the cells below (no outputs, no execution counts).

    .venv/bin/python notebooks/build_notebooks.py

Edit the cells here rather than in Jupyter, so the three notebooks keep the same set-up, mode
switch and connection cells. The code cells are then formatted with ruff (as `make lint` checks
them). tests/test_notebooks.py runs every notebook and fails when one carries outputs.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from textwrap import dedent

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

MODE_CELL = """\
# ← ここだけ変更 / the one setting:
#   "local": このマシンで実行 (workshop run, workshop serve, ローカル MLflow) / on this machine
#   "azure": config.json のワークスペースで実行 / on the workspace in config.json
MODE = "local"
"""

KERNEL_CELL = """\
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
"""

SETUP_CELL = """\
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
stale = [f"{p} {metadata.version(p)} (lock: {pins[p]})" for p in NEEDED if metadata.version(p) != pins[p]]
if stale:
    raise RuntimeError(
        f"this kernel's packages differ from requirements/lock.txt: {', '.join(stale)}. "
        "Rebuild the kernel: bash notebooks/workshop-kernel.sh, then restart it."
    )
"""

IMPORTS = """\
from workshop import notebook_support as nb
from workshop.paths import JOBS_DIR, data_cache, runs_dir

nb.check_mode(MODE)
print(f"MODE={MODE}  root={ROOT}")
print(f"data={data_cache()}  runs={runs_dir()}  small={nb.small()}")
"""

CONNECT_MD = """\
### ワークスペースに接続する / Connect to the workspace

`azure` モードでは、講師から配布された `config.json`（サブスクリプション ID、リソース グループ、
ワークスペース名だけが書かれたファイル。キーやパスワードは含みません）をこのノートブックと同じ
フォルダーかその上に置きます。`MLClient.from_config` がそれを探し、`DefaultAzureCredential` が
サインイン済みのアカウント（Studio のコンピューティング インスタンスではそのユーザー、ノート PC では
`az login`）で認証します。2019 年版の `Workspace.from_config()` にあたる手順です。

In `azure` mode, put the `config.json` from your handout (subscription id, resource group and
workspace name only: no keys) next to this notebook or in a folder above it.
`MLClient.from_config` finds it and `DefaultAzureCredential` signs in as you (the compute
instance's user in Studio, `az login` on a laptop). This replaces SDK v1's `Workspace.from_config()`.
"""

CONNECT_CELL = """\
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
"""


def md(text: str) -> nbformat.NotebookNode:
    return new_markdown_cell(dedent(text).strip("\n"))


def code(text: str) -> nbformat.NotebookNode:
    return new_code_cell(dedent(text).strip("\n"))


def header(title: str, intro: str) -> list[nbformat.NotebookNode]:
    return [
        md(f"# {title}\n\n{dedent(intro).strip()}"),
        md(
            """\
            ## カーネル / Kernel

            カーネルは **Python 3.11 (aml-workshop)** を選びます（Studio では右上のカーネル名から）。
            ワークショップで固定したパッケージ（`requirements/lock.txt`）がすべて入った Python
            です。次のセルは違うカーネルで実行されるとはっきり止まり、直し方を表示します。

            Pick the kernel **Python 3.11 (aml-workshop)** (in Studio: the kernel name at the top
            right). It is Python 3.11 with exactly the workshop's pinned packages
            (`requirements/lock.txt`); the next cell stops with the fix if another kernel runs it.
            """
        ),
        code(KERNEL_CELL),
        md(
            """\
            ## 0. モードを選ぶ / Choose the mode

            次のセルの `MODE` がこのノートブックで唯一の設定です。`"local"`（既定）は Azure なしで
            このマシン上ですべてを実行します。`"azure"` はワークスペースのクラスターとエンドポイントを
            使います。どちらでも同じ `jobs/*.yml` を使うので、結果を見比べられます。

            `MODE` in the next cell is this notebook's only setting. `"local"` (the default) runs
            everything on this machine with no Azure; `"azure"` uses the workspace's cluster and
            endpoints. Both run the same `jobs/*.yml`, so their results compare directly.
            """
        ),
        code(MODE_CELL),
        code(SETUP_CELL),
        code(IMPORTS),
    ]


# =========================================================================================== 01

NOTEBOOK_01 = [
    *header(
        "01 MNIST を調べてローカルで学習する / Explore MNIST and train locally",
        """\
        手書き数字のデータセット MNIST（28×28 ピクセルの画像 70,000 枚、0〜9 のラベル付き）を
        ダウンロードして中身を確かめ、最初のモデルとしてロジスティック回帰をこのマシンで学習します。
        2019 年版ハンズオンの「単純なロジスティック回帰モデル」の演習にあたります。

        We download MNIST (70,000 handwritten digits, 28x28 pixels, labelled 0-9), look at it,
        and train a first model, a logistic regression, right here: the 2019 hands-on's
        "simple logistic regression" exercise.

        1. データを取得する / fetch the data
        2. 読み込んで 30 枚を表示する / load it and look at 30 digits
        3. ロジスティック回帰を学習する / train the logistic regression
        4. 精度と混同行列 / accuracy and the confusion matrix
        """,
    ),
    md(
        """\
        ## 1. MNIST を取得する / Fetch MNIST

        2019 年版では `urllib` で元のサイトから 4 つの `.gz` ファイルを直接ダウンロードしていました。
        そのサイトはいまスクリプトからのダウンロードを拒むことが多いため、ここでは
        `workshop data fetch` と同じ関数を使います。複数のミラー（Azure Open Datasets など）を順に試し、
        公開されている MD5 で各ファイルを検証し、壊れたファイルを残しません。
        すでにファイルがあれば何もしません。

        The 2019 version downloaded the four `.gz` files from the original site with `urllib`; that
        site now often refuses scripted downloads. We use the function behind
        `workshop data fetch`: it tries several mirrors (Azure Open Datasets first), checks each
        file's published MD5 and never leaves a half-written file. Files already there are kept.
        """
    ),
    code(
        """\
        from mnist_trainer.idx import FILES

        from workshop.mnist.fetch import fetch_mnist

        DATA = data_cache()
        if all((DATA / name).is_file() for name in FILES.values()):
            print("MNIST already in", DATA)
        else:
            fetch_mnist(DATA)
        for name in FILES.values():
            print(f"{name:30s} {(DATA / name).stat().st_size:>12,d} bytes")
        """
    ),
    md(
        """\
        ## 2. データを読み込む / Load the data

        MNIST は IDX という単純なバイナリ形式です（ビッグエンディアンのヘッダーと `uint8` の並び）。
        `load_mnist` はヘッダーのマジック番号と次元を検証してから NumPy 配列を返します。
        学習用 60,000 枚・テスト用 10,000 枚に最初から分かれています。各画像は 784 (=28×28) 個の
        0〜255 の値で、モデルには 255 で割って 0〜1 にした値を渡します（学習が収束しやすくなります）。

        MNIST comes in IDX, a simple binary format (a big-endian header, then `uint8` values).
        `load_mnist` checks the magic number and dimensions, then returns NumPy arrays, already
        split into 60,000 training and 10,000 test images. Each image is 784 (28x28) values 0-255;
        the models get them divided by 255 (0-1), which helps the optimiser converge.
        """
    ),
    code(
        """\
        import numpy as np
        from mnist_trainer.idx import load_mnist

        mnist = load_mnist(DATA)
        print("train:", mnist.x_train.shape, mnist.y_train.shape, mnist.x_train.dtype)
        print("test: ", mnist.x_test.shape, mnist.y_test.shape)
        print("digits per label (train):", np.bincount(mnist.y_train, minlength=10).tolist())
        """
    ),
    md(
        """\
        ### 30 枚の数字を見る / Look at 30 digits

        ランダムに選んだ 30 枚の学習画像を、正解ラベルと一緒に表示します。
        読み込みが正しいか、どんなデータなのかを目で確かめるための一歩です。

        Thirty random training images with their labels: a quick check that the data loaded
        correctly, and a first feel for what the model will see.
        """
    ),
    code(
        """\
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
        """
    ),
    md(
        """\
        ## 3. ロジスティック回帰を学習する / Train the logistic regression

        ロジスティック回帰は、入力（784 個のピクセル値）から各クラス（0〜9）の確率を出す線形の
        分類モデルです。2019 年版はノートブックの中で scikit-learn を直接呼び出していました。
        ここでは **Azure ML のジョブ定義 `jobs/train-logreg.yml` をそのまま** ローカルで実行します
        （`workshop run jobs/train-logreg.yml` と同じ）。同じ YAML を `az ml job create -f` で
        クラスターに送れば、同じコードが同じ引数で動きます。学習スクリプトは MLflow でパラメーター・
        精度・図を記録し、学習済みモデルを MLflow モデルとして保存します。

        A logistic regression is a linear classifier that turns the 784 pixel values into a
        probability for each digit. The 2019 notebook called scikit-learn inline; here we run
        **the Azure ML job definition `jobs/train-logreg.yml` itself** on this machine (what
        `workshop run jobs/train-logreg.yml` does). Submitted with `az ml job create -f`, the same
        YAML runs the same code with the same arguments on the cluster. The script logs its
        parameters, accuracy and figures with MLflow and saves the fitted model as an MLflow model.

        フル MNIST では 2 コアで 1〜2 分かかります / about 1-2 minutes on 2 cores with full MNIST.
        """
    ),
    code(
        """\
        print((JOBS_DIR / "train-logreg.yml").read_text(encoding="utf-8"))
        """
    ),
    code(
        """\
        from rich.console import Console

        from workshop.runner import RunOptions, run_job
        from workshop.runner.report import print_report

        logreg = run_job(JOBS_DIR / "train-logreg.yml", RunOptions())
        print_report(logreg, Console())
        if not logreg.ok:
            raise RuntimeError(f"train-logreg ended {logreg.status}: {logreg.error}")
        print(f"test accuracy: {logreg.metrics['accuracy']:.4f}")
        """
    ),
    md(
        """\
        ## 4. 精度と混同行列 / Accuracy and the confusion matrix

        保存されたモデルを読み込み、テスト画像 10,000 枚を予測します。精度（正解の割合）だけでは
        どの数字を間違えやすいかは分かりません。混同行列は「正解の数字（行）」と「予測した数字（列）」の
        組み合わせを数えた表で、対角線の外にある数が誤りです（たとえば 4 と 9、3 と 5 の取り違え）。

        We load the saved model and predict the 10,000 test images. Accuracy alone does not say
        which digits get confused; the confusion matrix counts every (true digit, predicted digit)
        pair, and everything off the diagonal is a mistake (4 read as 9, 5 as 3, ...).
        """
    ),
    code(
        """\
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
        """
    ),
    md(
        """\
        ### 記録を見る / Where the run is recorded

        学習の記録（パラメーター、精度、混同行列とサンプル画像の PNG、モデル）は実験
        `amls-learn-experiment` の実行として残ります。ローカルでは `.workshop/` の MLflow ストアに、
        Azure ML のジョブではワークスペースに記録されます。ローカルの記録は次のコマンドで MLflow UI から
        見られます。この精度はノートブック 02 でクラスターの結果と比べます。

        The run (parameters, accuracy, the confusion-matrix and sample-digit PNGs, the model) is
        recorded under the experiment `amls-learn-experiment`: locally in the MLflow store under
        `.workshop/`, in the workspace for Azure ML jobs. The command below opens the local one in
        the MLflow UI. Notebook 02 compares this accuracy with the cluster's results.
        """
    ),
    code(
        """\
        from workshop.runner.tracking import ui_command

        print("MLflow run id:", logreg.run_id)
        print("model folder: ", logreg.outputs["model"])
        print("MLflow UI:    ", ui_command())
        nb.save_state(logreg_accuracy=logreg.metrics["accuracy"])
        """
    ),
    md(
        """\
        ## 5. (azure) ワークスペースを確かめる / (azure) Check the workspace

        ロジスティック回帰はどちらのモードでもこのマシン（Studio ではコンピューティング インスタンス）で
        学習しました。次のノートブックではクラスターを使います。`azure` モードでは、ワークスペースに
        接続し、講師の Pulumi プログラムが用意したデータ資産 `mnist:1`（2019 年版で
        `ds.upload` していた MNIST）とクラスター `cpu-cluster` があることを確かめます。

        The logistic regression trained on this machine in both modes (the compute instance, in
        Studio). The next notebook uses the cluster. In `azure` mode we connect and check that the
        data asset `mnist:1` (the MNIST upload the 2019 hands-on did with `ds.upload`) and the
        cluster `cpu-cluster`, both created by the operator's Pulumi program, are there.
        """
    ),
    md(CONNECT_MD),
    code(CONNECT_CELL),
    code(
        """\
        if MODE == "azure":
            data_asset = ml_client.data.get("mnist", version="1")
            print("data asset:", data_asset.id, "->", data_asset.path)
            cluster = ml_client.compute.get("cpu-cluster")
            nodes = f"{cluster.min_instances}-{cluster.max_instances} nodes"
            print("cluster:", cluster.name, cluster.size, nodes)
        """
    ),
    md(
        """\
        ## まとめ / Summary

        MNIST を取得して確かめ、ジョブ定義と同じ YAML でロジスティック回帰を学習し、精度と混同行列を
        見ました。次は `02-run-on-the-cluster.ipynb` で、kNN の k の探索をクラスターで実行します。

        We fetched and inspected MNIST, trained a logistic regression from the same YAML Azure ML
        runs, and read its accuracy and confusion matrix. Next: `02-run-on-the-cluster.ipynb`
        searches k for kNN on the cluster.
        """
    ),
]

# =========================================================================================== 02

NOTEBOOK_02 = [
    *header(
        "02 クラスターで実行する / Run on the cluster",
        """\
        k 近傍法 (kNN) は、テスト画像に最も近い k 枚の学習画像の多数決でラベルを決めます。
        k の選び方で精度が変わるので、いくつかの k を試して最良のものを選びます。
        2019 年版では Estimator で `train.py` をクラスターに送り、HyperDrive は扱いませんでした。
        Azure ML v2 では **コマンド ジョブ**（`jobs/train-knn.yml`）と **スイープ ジョブ**
        （`jobs/sweep-knn.yml`、HyperDrive の後継）を YAML のまま送信します。

        k-nearest neighbours (kNN) labels a test image by a vote of the k closest training
        images; accuracy depends on k, so we try several and keep the best. The 2019 hands-on sent
        `train.py` to the cluster with an Estimator and left HyperDrive out. In Azure ML v2 we
        submit a **command job** (`jobs/train-knn.yml`) and a **sweep job** (`jobs/sweep-knn.yml`,
        HyperDrive's successor) straight from their YAML.

        **実行と実験 / runs and experiments**: ジョブ（実行）は 1 回の学習やチューニングで、メトリックと
        出力を記録します。実験は実行をまとめて比べるための名前です（ここでは `amls-learn-experiment`）。

        A job (run) is one training or tuning task that records metrics and outputs; an experiment
        groups runs so they can be compared (here `amls-learn-experiment`).
        """,
    ),
    md(CONNECT_MD),
    code(CONNECT_CELL),
    md(
        """\
        ## 1. kNN のコマンド ジョブ / The kNN command job

        YAML の `command` がクラスターのノードで実行されるコマンド、`code` がアップロードされるフォルダー
        （学習コードだけ）、`inputs.mnist` がデータ資産、`compute` がクラスター、`environment` が
        scikit-learn と MLflow 入りの環境です。`kmax`・`kinterval` は 2019 年版の `train.py` と同じ
        意味で、k = 1, 3, …, 13 を試します。近傍の検索を最大の k について一度だけ行い、そこから全ての k を
        採点するので、k ごとに学習し直す 2019 年版より何倍も速く、予測は同じです。

        `command` is what runs on a cluster node, `code` the folder uploaded with it (training code
        only), `inputs.mnist` the data asset, `compute` the cluster, `environment` the image with
        scikit-learn and MLflow. `kmax` and `kinterval` mean what they meant in the 2019
        `train.py` (k = 1, 3, ..., 13). The neighbours are searched once, for the largest k, and
        every k is scored from that list: many times faster than refitting per k, same predictions.
        """
    ),
    code(
        """\
        print((JOBS_DIR / "train-knn.yml").read_text(encoding="utf-8"))
        """
    ),
    md(
        """\
        ### 送信して監視する / Submit and monitor

        `azure`: `load_job` で YAML を読み、`ml_client.jobs.create_or_update` で送信し、
        `ml_client.jobs.stream` でログを流しながら終了を待ちます（2019 年版の `experiment.submit` と
        `RunDetails` にあたります）。最初の実行では環境のイメージ作成とノードの起動に数分かかります。
        `local`: 同じ YAML をローカルのランナーで実行します。

        `azure`: `load_job` reads the YAML, `ml_client.jobs.create_or_update` submits it and
        `ml_client.jobs.stream` follows its log until it ends (SDK v1's `experiment.submit` and
        `RunDetails`). The first job waits a few minutes for the image build and a node.
        `local`: the local runner runs the same YAML.
        """
    ),
    code(
        """\
        from rich.console import Console

        from workshop.runner import RunOptions, run_job
        from workshop.runner.report import print_report
        from workshop.runner.tracking import store_uri

        if MODE == "azure":
            from azure.ai.ml import load_job

            from workshop.azure.jobs import MlflowMetrics, report

            knn_job = ml_client.jobs.create_or_update(load_job(JOBS_DIR / "train-knn.yml"))
            print("submitted:", knn_job.name, "\\nStudio:", knn_job.studio_url)
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
        """
    ),
    md(
        """\
        ### k ごとの精度 / Accuracy for each k

        学習スクリプトは k ごとの精度を MLflow のメトリック `accuracy_k`（ステップ = k）として記録しました。

        The script logged each k's accuracy as the MLflow metric `accuracy_k` (step = k).
        """
    ),
    code(
        """\
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
        """
    ),
    md(
        """\
        ## 2. ハイパーパラメーターのスイープ / The hyperparameter sweep

        k のように学習の前に決めておく値をハイパーパラメーターと呼びます。候補を総当たりで試す方法が
        グリッド検索です。2019 年版で紹介だけした HyperDrive は、v2 では **スイープ ジョブ** になりました。
        `jobs/sweep-knn.yml` は k（7 通り）と入力の表現（生のピクセル / PCA で 50 次元に圧縮）の
        14 通りを、1 通りずつ別の試行（トライアル）としてクラスターの最大 3 ノードで並行に実行し、
        `objective`（`accuracy` の最大化）で最良の試行を選びます。

        Values fixed before training, like k, are hyperparameters; trying every candidate is a grid
        search. HyperDrive, which the 2019 hands-on only mentioned, is a **sweep job** in v2.
        `jobs/sweep-knn.yml` runs the 14 combinations of k (7 values) and the input representation
        (raw pixels, or PCA down to 50 dimensions) as separate trials, up to 3 at a time on the
        cluster, and picks the best by its `objective` (maximise `accuracy`).

        `local` では時間を抑えるため、`workshop demo` と同じく PCA-50 の k = 1, 3, 5 だけを試します
        （生のピクセルの k は上の train-knn で採点済み）。

        Locally, to keep it short, we sweep k = 1, 3, 5 on PCA-50 only, as `workshop demo` does
        (train-knn above already scored raw pixels for every k).
        """
    ),
    code(
        """\
        print((JOBS_DIR / "sweep-knn.yml").read_text(encoding="utf-8"))
        """
    ),
    code(
        """\
        if MODE == "azure":
            sweep_job = ml_client.jobs.create_or_update(load_job(JOBS_DIR / "sweep-knn.yml"))
            print("submitted:", sweep_job.name, "\\nStudio:", sweep_job.studio_url)
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
        """
    ),
    md(
        """\
        ## 3. ローカルの結果と比べる / Compare with the local result

        ノートブック 01 でローカルに学習したロジスティック回帰、kNN ジョブ、スイープの最良の試行を
        並べます。最も精度の高いモデルをノートブック 03 でデプロイします。

        The logistic regression trained locally in notebook 01, the kNN job and the sweep's best
        trial side by side; notebook 03 deploys the most accurate model.
        """
    ),
    code(
        """\
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
        """
    ),
    md(
        """\
        ## 4. Studio で見る / Open it in Studio

        `azure`: 下のリンクから Azure ML Studio でジョブを開くと、ログ、メトリック、図、スイープの
        全試行の比較が見られます（2019 年版の `run.get_portal_url()` にあたります）。
        `local`: 同じ情報は MLflow UI で見られます。

        `azure`: the links open the jobs in Azure ML Studio: logs, metrics, plots and every
        trial of the sweep side by side (SDK v1's `run.get_portal_url()`). `local`: the MLflow UI
        shows the same.
        """
    ),
    code(
        """\
        if MODE == "azure":
            print("train-knn:", knn_job.studio_url)
            print("sweep:    ", sweep_job.studio_url)
            nb.save_state(best_trial_job=best_trial, best_accuracy=best_accuracy)
        else:
            from workshop.runner.tracking import ui_command

            print("MLflow UI:", ui_command())
            nb.save_state(best_model_dir=best_trial, best_accuracy=best_accuracy)
        """
    ),
    md(
        """\
        ## まとめ / Summary

        同じ YAML をクラスター（またはローカル）で実行し、ログを追い、メトリックから最良の k と表現を
        読み取り、ローカルの結果と比べました。次は `03-deploy-and-score.ipynb` で最良のモデルを
        登録してエンドポイントにデプロイします。

        We ran the same YAMLs on the cluster (or locally), followed their logs, read the best k and
        representation from the metrics and compared them with the local result. Next:
        `03-deploy-and-score.ipynb` registers the best model and deploys it to an endpoint.
        """
    ),
]

# =========================================================================================== 03

NOTEBOOK_03 = [
    *header(
        "03 デプロイして予測する / Deploy and score",
        """\
        ノートブック 02 のスイープで最も精度の高かったモデルを登録し、オンライン エンドポイントに
        デプロイして、テスト画像と手書きの数字を予測させます。2019 年版は Docker イメージを作って
        Azure Container Instances (ACI) にデプロイしていました。Azure ML v2 では
        **マネージド オンライン エンドポイント** を使い、イメージ作成もサーバーの管理も Azure が行います。
        最後にエンドポイントを削除して課金を止めます。

        We register the best model of notebook 02's sweep, deploy it to an online endpoint and have
        it read test digits and a hand-drawn one. The 2019 hands-on built a Docker image and
        deployed it to Azure Container Instances (ACI); Azure ML v2 uses a **managed online
        endpoint**, which builds the image and runs the servers for us. At the end we delete the
        endpoint so it stops costing money.
        """,
    ),
    md(CONNECT_MD),
    code(CONNECT_CELL),
    md(
        """\
        ## 1. モデルを登録する / Register the model

        登録したモデルは名前とバージョンで管理される資産になり、デプロイはそれを参照します
        （`jobs/deployment.yml` は `azureml:mnist-classifier@latest`）。`azure` ではスイープの最良の
        試行の出力 `model` をそのまま登録します。`local` ではローカル MLflow のモデル レジストリに
        同じ名前で登録します。

        A registered model is a versioned asset that deployments refer to (`jobs/deployment.yml`
        serves `azureml:mnist-classifier@latest`). In `azure` we register the best trial's `model`
        output where it is; in `local`, the local MLflow model registry gets the same name.
        """
    ),
    code(
        """\
        state = nb.load_state()
        if MODE == "azure":
            from azure.ai.ml.constants import AssetTypes
            from azure.ai.ml.entities import Model

            best_trial_job = nb.require(state, "best_trial_job", "02-run-on-the-cluster.ipynb")
            registered = ml_client.models.create_or_update(
                Model(
                    name=nb.MODEL_NAME,
                    # azureml://jobs/<job>/outputs/<output>/paths/<path in it>: the MLmodel is at its root
                    path=f"azureml://jobs/{best_trial_job}/outputs/model/paths/",
                    type=AssetTypes.MLFLOW_MODEL,
                    description=f"best sweep trial, accuracy {state['best_accuracy']:.4f}",
                )
            )
            print("registered:", registered.name, "version", registered.version)
        else:
            import mlflow

            from workshop.runner.tracking import store_uri

            model_dir = Path(nb.require(state, "best_model_dir", "02-run-on-the-cluster.ipynb"))
            mlflow.set_tracking_uri(store_uri())
            mlflow.set_experiment(nb.EXPERIMENT)
            with mlflow.start_run(run_name="register-best-model") as run:
                mlflow.log_artifacts(str(model_dir), artifact_path="model")
                registered = mlflow.register_model(f"runs:/{run.info.run_id}/model", nb.MODEL_NAME)
            print("registered:", registered.name, "version", registered.version)
        """
    ),
    md(
        """\
        ## 2. エンドポイントにデプロイする / Deploy the endpoint

        エンドポイント（`jobs/endpoint.yml`）は URL と認証（キー）を持つ入口、デプロイ
        （`jobs/deployment.yml`）はその裏でモデルと採点スクリプト `score.py` を動かすサーバーです。
        2019 年版のデプロイに必要だった 3 つ（採点スクリプト、環境、リソースの構成）は、それぞれ
        `code_configuration`、`environment`、`instance_type` として YAML に書かれています。

        The endpoint (`jobs/endpoint.yml`) is the front door, a URL with key authentication; the
        deployment (`jobs/deployment.yml`) is the server behind it running the model with the
        scoring script `score.py`. The three things the 2019 deployment needed (scoring script,
        environment, resource configuration) are the YAML's `code_configuration`, `environment`
        and `instance_type`.

        `azure`: エンドポイント名はリージョン内で一意なので、末尾にランダムな文字を付けます。作成には
        10 分ほどかかり、**インスタンスが動いている間は課金されます**（最後に削除します）。
        `local`: 同じ `score.py` を Azure ML の推論サーバーで 127.0.0.1 に起動します
        （`workshop serve --model ...` と同じ）。

        `azure`: endpoint names are unique per region, so ours gets a random suffix. Creating it
        takes about 10 minutes and **the instance costs money while it runs** (we delete it at the
        end). `local`: the same `score.py` runs in Azure ML's inference server on 127.0.0.1 (what
        `workshop serve --model ...` does).
        """
    ),
    code(
        """\
        print((JOBS_DIR / "endpoint.yml").read_text(encoding="utf-8"))
        print((JOBS_DIR / "deployment.yml").read_text(encoding="utf-8"))
        """
    ),
    code(
        """\
        import secrets

        from workshop import local_endpoint

        if MODE == "azure":
            from azure.ai.ml import load_online_deployment, load_online_endpoint

            endpoint_name = state.get("endpoint_name") or f"mnist-{secrets.token_hex(4)}"
            nb.save_state(endpoint_name=endpoint_name)
            endpoint = load_online_endpoint(JOBS_DIR / "endpoint.yml")
            endpoint.name = endpoint_name
            ml_client.online_endpoints.begin_create_or_update(endpoint).result()
            deployment = load_online_deployment(JOBS_DIR / "deployment.yml")
            deployment.endpoint_name = endpoint_name
            deployment.model = f"azureml:{registered.name}:{registered.version}"
            ml_client.online_deployments.begin_create_or_update(deployment).result()
            endpoint = ml_client.online_endpoints.get(endpoint_name)
            endpoint.traffic = {deployment.name: 100}
            ml_client.online_endpoints.begin_create_or_update(endpoint).result()
            print("scoring URI:", ml_client.online_endpoints.get(endpoint_name).scoring_uri)
        else:
            port = local_endpoint.free_port()
            server_log = runs_dir() / "notebooks" / "server.log"
            server_log.parent.mkdir(parents=True, exist_ok=True)
            server = local_endpoint.start(model_dir, port, log=server_log)
            url = f"http://{local_endpoint.HOST}:{port}"
            local_endpoint.wait_ready(url, server)
            print("local endpoint:", local_endpoint.score_url(url), "(log:", server_log, ")")
        """
    ),
    md(
        """\
        ## 3. テスト画像を予測する / Score test digits

        エンドポイントは `{"data": [[784 個のピクセル値 0〜255], ...]}` という JSON を受け取り、
        予測した数字と各数字の確率を返します。モデルが学習で見ていないテスト画像を 8 枚送ります。

        The endpoint takes `{"data": [[784 pixel values 0-255], ...]}` and answers with the
        predicted digits and each digit's probability. We send 8 test images the model never saw.
        """
    ),
    code(
        """\
        import json

        import matplotlib.pyplot as plt
        import numpy as np
        from mnist_trainer.idx import load_mnist

        from workshop.azure.deploy import parse_predictions

        request_file = runs_dir() / "notebooks" / "request.json"


        def score(images: np.ndarray) -> list[int]:
            \"\"\"Send images (n, 784), 0-255, to the endpoint; its predicted digits.\"\"\"
            if MODE == "azure":
                body = {"data": images.reshape(len(images), -1).astype(int).tolist()}
                request_file.write_text(json.dumps(body), encoding="utf-8")
                answer = ml_client.online_endpoints.invoke(
                    endpoint_name=endpoint_name, request_file=str(request_file)
                )
                return parse_predictions(answer)
            return [int(p) for p in local_endpoint.score(url, images)["predictions"]]


        mnist = load_mnist(data_cache())
        picks = np.random.default_rng(seed=3).choice(len(mnist.x_test), size=8, replace=False)
        predictions = score(mnist.x_test[picks])
        fig, axes = plt.subplots(1, 8, figsize=(12, 2.2))
        for ax, i, p in zip(axes, picks, predictions, strict=True):
            ax.imshow(mnist.x_test[i].reshape(28, 28), cmap="Greys")
            ax.set_title(f"true {mnist.y_test[i]} / pred {p}", fontsize=9)
            ax.axis("off")
        plt.show()
        right = sum(int(p == mnist.y_test[i]) for i, p in zip(picks, predictions, strict=True))
        print(f"{right} of {len(picks)} right")
        """
    ),
    md(
        """\
        ## 4. 手書きの数字を予測する / Score a hand-drawn digit

        白い紙に黒いペンで書いた「7」のような画像を Pillow で描き、PNG として保存します（自分で書いた
        数字の写真やスキャンに差し替えても構いません：`my_digit` にそのパスを入れてください）。
        MNIST と同じ形（黒地に白い文字、文字を 20×20 に縮めて 28×28 の中央に置く）に変換してから送ります。

        With Pillow we draw a "7" the way a pen leaves it on white paper, dark on light, and save
        it as a PNG (to try your own handwriting instead, point `my_digit` at a photo or scan of a
        digit). Before sending, it is converted the way MNIST digits were prepared: a light digit
        on a black background, scaled into a 20x20 box and centred in 28x28.
        """
    ),
    code(
        """\
        from PIL import Image

        my_digit = nb.draw_digit(runs_dir() / "notebooks" / "my-digit.png")
        pixels = local_endpoint.png_to_pixels(my_digit)
        (predicted,) = score(pixels.reshape(1, 784))

        fig, (left, right) = plt.subplots(1, 2, figsize=(5, 2.6))
        left.imshow(Image.open(my_digit), cmap="gray")
        left.set_title("drawn")
        right.imshow(pixels.reshape(28, 28), cmap="Greys")
        right.set_title(f"sent as 28x28: predicted {predicted}")
        for ax in (left, right):
            ax.axis("off")
        plt.show()
        """
    ),
    md(
        """\
        ## 5. エンドポイントを削除する / Delete the endpoint

        マネージド オンライン エンドポイントは、使っていなくてもインスタンスが動いている間ずっと課金され
        ます。終わったら必ず削除してください（登録したモデルとジョブの記録は残ります）。ワークスペース全体の
        片付けは講師が `pulumi destroy` で行います（2019 年版の「リソース グループの削除」にあたります）。
        `local` では推論サーバーのプロセスを止めます。

        A managed online endpoint costs money for as long as its instance runs, used or not:
        always delete it when you are done (the registered model and the job records stay). The
        operator removes the whole workspace with `pulumi destroy` (the 2019 hands-on's "delete the
        resource group"). In `local` mode we stop the inference server process.
        """
    ),
    code(
        """\
        if MODE == "azure":
            ml_client.online_endpoints.begin_delete(name=endpoint_name).result()
            nb.save_state(endpoint_name=None)
            print("deleted endpoint", endpoint_name)
        else:
            local_endpoint.stop(server)
            print("local endpoint stopped")
        """
    ),
    md(
        """\
        ## まとめ / Summary

        最良のモデルを登録し、YAML からエンドポイントとデプロイを作り、テスト画像と手書きの数字を
        予測させ、エンドポイントを削除しました。ローカルで調べて学習し（01）、クラスターで探索し（02）、
        デプロイして使う（03）という流れは、実際のプロジェクトでもそのまま使えます。

        We registered the best model, created the endpoint and deployment from YAML, scored test
        digits and a hand-drawn one, and deleted the endpoint. Explore and train locally (01),
        search on the cluster (02), deploy and use (03): the same path serves real projects.
        """
    ),
]

NOTEBOOKS = {
    "01-explore-and-train-locally.ipynb": NOTEBOOK_01,
    "02-run-on-the-cluster.ipynb": NOTEBOOK_02,
    "03-deploy-and-score.ipynb": NOTEBOOK_03,
}


def build(name: str) -> nbformat.NotebookNode:
    notebook = new_notebook(cells=NOTEBOOKS[name])
    notebook.metadata = {
        # The kernel notebooks/workshop-kernel.sh builds (workshop.kernel): Jupyter and Studio
        # select it by name wherever it exists, and ask for a kernel where it does not.
        "kernelspec": {
            "display_name": "Python 3.11 (aml-workshop)",
            "language": "python",
            "name": "aml-workshop",
        },
        "language_info": {"name": "python"},
    }
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"{name[:2]}-{index:02d}"  # stable ids: rebuilding changes nothing
    return notebook


def main() -> int:
    paths = []
    for name in NOTEBOOKS:
        notebook = build(name)
        nbformat.validate(notebook)
        nbformat.write(notebook, HERE / name)
        paths.append(str(HERE / name))
    ruff = Path(sys.executable).with_name("ruff")
    subprocess.run([str(ruff), "format", "--quiet", *paths], check=True)
    for path in paths:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
