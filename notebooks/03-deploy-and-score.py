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
# # 03 デプロイして予測する / Deploy and score
#
# ノートブック 02 のスイープで最も精度の高かったモデルを登録し、オンライン エンドポイントに
# デプロイして、テスト画像と手書きの数字を予測させます。2019 年版は Docker イメージを作って
# Azure Container Instances (ACI) にデプロイしていました。Azure ML v2 では
# **マネージド オンライン エンドポイント** を使い、イメージ作成もサーバーの管理も Azure が行います。
# 最後にエンドポイントを削除して課金を止めます。
#
# We register the best model of notebook 02's sweep, deploy it to an online endpoint and have
# it read test digits and a hand-drawn one. The 2019 hands-on built a Docker image and
# deployed it to Azure Container Instances (ACI); Azure ML v2 uses a **managed online
# endpoint**, which builds the image and runs the servers for us. At the end we delete the
# endpoint so it stops costing money.

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
# ## 1. モデルを登録する / Register the model
#
# 登録したモデルは名前とバージョンで管理される資産になり、デプロイはそれを参照します
# （`jobs/deployment.yml` は `azureml:mnist-classifier@latest`）。`azure` ではスイープの最良の
# 試行の出力 `model` をそのまま登録します。`local` ではローカル MLflow のモデル レジストリに
# 同じ名前で登録します。
#
# A registered model is a versioned asset that deployments refer to (`jobs/deployment.yml`
# serves `azureml:mnist-classifier@latest`). In `azure` we register the best trial's `model`
# output where it is; in `local`, the local MLflow model registry gets the same name.

# %%
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

# %% [markdown]
# ## 2. エンドポイントにデプロイする / Deploy the endpoint
#
# エンドポイント（`jobs/endpoint.yml`）は URL と認証（キー）を持つ入口、デプロイ
# （`jobs/deployment.yml`）はその裏でモデルと採点スクリプト `score.py` を動かすサーバーです。
# 2019 年版のデプロイに必要だった 3 つ（採点スクリプト、環境、リソースの構成）は、それぞれ
# `code_configuration`、`environment`、`instance_type` として YAML に書かれています。
#
# The endpoint (`jobs/endpoint.yml`) is the front door, a URL with key authentication; the
# deployment (`jobs/deployment.yml`) is the server behind it running the model with the
# scoring script `score.py`. The three things the 2019 deployment needed (scoring script,
# environment, resource configuration) are the YAML's `code_configuration`, `environment`
# and `instance_type`.
#
# `azure`: エンドポイント名はリージョン内で一意なので、末尾にランダムな文字を付けます。作成には
# 10 分ほどかかり、**インスタンスが動いている間は課金されます**（最後に削除します）。
# `local`: 同じ `score.py` を Azure ML の推論サーバーで 127.0.0.1 に起動します
# （`workshop serve --model ...` と同じ）。
#
# `azure`: endpoint names are unique per region, so ours gets a random suffix. Creating it
# takes about 10 minutes and **the instance costs money while it runs** (we delete it at the
# end). `local`: the same `score.py` runs in Azure ML's inference server on 127.0.0.1 (what
# `workshop serve --model ...` does).

# %%
print((JOBS_DIR / "endpoint.yml").read_text(encoding="utf-8"))
print((JOBS_DIR / "deployment.yml").read_text(encoding="utf-8"))

# %%
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

# %% [markdown]
# ## 3. テスト画像を予測する / Score test digits
#
# エンドポイントは `{"data": [[784 個のピクセル値 0〜255], ...]}` という JSON を受け取り、
# 予測した数字と各数字の確率を返します。モデルが学習で見ていないテスト画像を 8 枚送ります。
#
# The endpoint takes `{"data": [[784 pixel values 0-255], ...]}` and answers with the
# predicted digits and each digit's probability. We send 8 test images the model never saw.

# %%
import json

import matplotlib.pyplot as plt
import numpy as np
from mnist_trainer.idx import load_mnist

from workshop.azure.deploy import parse_predictions

request_file = runs_dir() / "notebooks" / "request.json"


def score(images: np.ndarray) -> list[int]:
    """Send images (n, 784), 0-255, to the endpoint; its predicted digits."""
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

# %% [markdown]
# ## 4. 手書きの数字を予測する / Score a hand-drawn digit
#
# 白い紙に黒いペンで書いた「7」のような画像を Pillow で描き、PNG として保存します（自分で書いた
# 数字の写真やスキャンに差し替えても構いません：`my_digit` にそのパスを入れてください）。
# MNIST と同じ形（黒地に白い文字、文字を 20×20 に縮めて 28×28 の中央に置く）に変換してから送ります。
#
# With Pillow we draw a "7" the way a pen leaves it on white paper, dark on light, and save
# it as a PNG (to try your own handwriting instead, point `my_digit` at a photo or scan of a
# digit). Before sending, it is converted the way MNIST digits were prepared: a light digit
# on a black background, scaled into a 20x20 box and centred in 28x28.

# %%
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

# %% [markdown]
# ## 5. エンドポイントを削除する / Delete the endpoint
#
# マネージド オンライン エンドポイントは、使っていなくてもインスタンスが動いている間ずっと課金され
# ます。終わったら必ず削除してください（登録したモデルとジョブの記録は残ります）。
# ワークスペース全体の片付けは講師が `pulumi destroy` で行います
# （2019 年版の「リソース グループの削除」にあたります）。
# `local` では推論サーバーのプロセスを止めます。
#
# A managed online endpoint costs money for as long as its instance runs, used or not:
# always delete it when you are done (the registered model and the job records stay). The
# operator removes the whole workspace with `pulumi destroy` (the 2019 hands-on's "delete the
# resource group"). In `local` mode we stop the inference server process.

# %%
if MODE == "azure":
    ml_client.online_endpoints.begin_delete(name=endpoint_name).result()
    nb.save_state(endpoint_name=None)
    print("deleted endpoint", endpoint_name)
else:
    local_endpoint.stop(server)
    print("local endpoint stopped")

# %% [markdown]
# ## まとめ / Summary
#
# 最良のモデルを登録し、YAML からエンドポイントとデプロイを作り、テスト画像と手書きの数字を
# 予測させ、エンドポイントを削除しました。ローカルで調べて学習し（01）、クラスターで探索し（02）、
# デプロイして使う（03）という流れは、実際のプロジェクトでもそのまま使えます。
#
# We registered the best model, created the endpoint and deployment from YAML, scored test
# digits and a hand-drawn one, and deleted the endpoint. Explore and train locally (01),
# search on the cluster (02), deploy and use (03): the same path serves real projects.
