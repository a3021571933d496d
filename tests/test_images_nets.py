"""The network image methods on small real data: EfficientNet-Lite0 features (cnn) and the contrastive CNN.

The embedders are driven directly through the Embedder contract (fit with a FitContext of Batch objects,
embed, state/extras/assets, restore), so these tests need no image files; scikit-learn's 8x8 digits are the
real images (upscaled), and Fashion-MNIST is used where the Debian package is installed.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("efficientnet_lite_pytorch")
pytest.importorskip("safetensors")

import torch  # noqa: E402

from embspace.errors import EmbspaceError  # noqa: E402
from embspace.images._base import Batch, FitContext  # noqa: E402

FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(scope="module")
def digits():
    """scikit-learn's digits as uint8 RGB 8x8 images (0-16 scaled to 0-255) and their labels."""
    from sklearn.datasets import load_digits

    d = load_digits()
    gray = np.clip(d.images * 16, 0, 255).astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=3), d.target.astype(np.int64)


def context(images: np.ndarray, labels=None, batch: int = 64, progress=None, seed: int = 0) -> FitContext:
    def passes():
        for start in range(0, len(images), batch):
            rows = range(start, min(start + batch, len(images)))
            yield Batch([f"img{i}" for i in rows], [images[i] for i in rows])

    return FitContext(passes=passes, n=len(images), labels=labels, progress=progress, seed=seed)


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def nn_agreement(vectors: np.ndarray, labels: np.ndarray) -> float:
    """Leave-one-out 1-nearest-neighbour label agreement under cosine."""
    u = unit(vectors)
    sims = u @ u.T
    np.fill_diagonal(sims, -np.inf)
    return float((labels[sims.argmax(1)] == labels).mean())


# ---- cnn ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cnn():
    from embspace.images._cnn import Cnn

    return Cnn(image_size=64, device="cpu")


def test_cnn_features_shape_finite_deterministic(cnn, digits):
    images, _ = digits
    batch = [images[i] for i in range(6)] + [images[0]]
    v = cnn.embed(batch)
    assert v.shape == (7, 1280) and v.dtype == np.float32
    assert np.isfinite(v).all() and (np.abs(v).sum(1) > 0).all()
    np.testing.assert_allclose(cnn.embed(batch), v, rtol=0, atol=1e-5)  # the same call, the same vectors
    np.testing.assert_allclose(v[6], v[0], rtol=0, atol=1e-4)  # the same image, the same vector
    gray = cnn.embed([images[0][:, :, 0]])  # a (h, w) grayscale image is replicated to RGB
    np.testing.assert_allclose(gray[0], v[0], rtol=0, atol=1e-4)


def test_cnn_same_class_closer_than_other_classes(cnn, digits):
    images, labels = digits
    rows = np.concatenate([np.flatnonzero(labels == c)[:8] for c in (0, 1, 4, 7)])
    u = unit(cnn.embed([images[i] for i in rows]))
    y = labels[rows]
    sims = u @ u.T
    same = (y[:, None] == y[None, :]) & ~np.eye(len(y), dtype=bool)
    other = y[:, None] != y[None, :]
    assert sims[same].mean() > sims[other].mean() + 0.02


@pytest.mark.skipif(not (FASHION / "t10k-images-idx3-ubyte.gz").is_file(), reason="Fashion-MNIST not installed")
def test_cnn_on_fashion_mnist_groups_classes(cnn):
    with gzip.open(FASHION / "t10k-images-idx3-ubyte.gz") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)[:120]
    with gzip.open(FASHION / "t10k-labels-idx1-ubyte.gz") as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)[:120].astype(np.int64)
    v = cnn.embed(list(x))  # grayscale 28x28 straight from the IDX file
    assert nn_agreement(v, y) > 0.5  # 10 classes: chance is 0.1


def test_cnn_restore_round_trip_and_refusals(cnn, digits):
    from embspace.images._cnn import Cnn

    state = cnn.state()
    assert state["model"] == "efficientnet-lite0" and state["image_size"] == 64 and state["dim"] == 1280
    assert state["preprocessing"]["mean"] == 127.0 and len(state["weights_sha256"]) == 64
    again = Cnn.restore(state, cnn.extras(), cnn.assets())
    images, _ = digits
    np.testing.assert_allclose(again.embed([images[3]]), cnn.embed([images[3]]), rtol=0, atol=1e-5)
    with pytest.raises(EmbspaceError, match="weights sha256"):
        Cnn.restore({**state, "weights_sha256": "0" * 64}, {}, {})
    with pytest.raises(EmbspaceError, match="only 'efficientnet-lite0'"):
        Cnn.restore({**state, "model": "resnet50"}, {}, {})
    with pytest.raises(EmbspaceError, match="between 32 and 512"):
        Cnn(image_size=4000)
    with pytest.raises(EmbspaceError, match="resizer is 'lanczos'"):
        Cnn.restore({**state, "resizer": "lanczos"}, {}, {})


def test_cnn_resizes_in_torch_and_keeps_pil_for_older_spaces(cnn, digits):
    """New spaces resize each batch in torch; a space built before that (no "resizer" in its state) keeps
    PIL, so its query images are embedded exactly as its collection was. The two agree closely."""
    from embspace.images._cnn import Cnn

    images, _ = digits
    assert cnn.state()["resizer"] == "torch"
    older = {k: v for k, v in cnn.state().items() if k != "resizer"}
    pil = Cnn.restore(older, {}, {})
    assert pil.resize == "pil" and pil.state()["resizer"] == "pil"
    mixed = [images[5], images[6][:, :, 0], np.full((40, 30, 3), 90, np.uint8)]  # shapes differ in one batch
    a, b = unit(cnn.embed(mixed)), unit(pil.embed(mixed))
    assert ((a * b).sum(1) > 0.97).all()
    np.testing.assert_allclose(cnn.embed(mixed[2:]), cnn.embed(mixed)[2:], rtol=0, atol=1e-4)  # order-free


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("method", ["cnn", "contrastive"])
def test_cuda_without_cuda_is_one_line_error(method):
    from embspace.images._base import embedder_class

    with pytest.raises(EmbspaceError, match="sees no CUDA GPU") as info:
        embedder_class(method)(device="cuda")
    assert "\n" not in str(info.value)
    with pytest.raises(EmbspaceError, match="auto, cpu, cuda"):
        embedder_class(method)(device="tpu")


# ---- contrastive ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def digit_slice(digits):
    images, labels = digits
    return images[:300], labels[:300], images[300:500], labels[300:500]


def agreement_with_database(emb, train, test) -> float:
    """Held-out images' nearest training image (cosine): how often it has the same label."""
    xtr, ytr = train
    xte, yte = test
    a, b = unit(emb.embed(list(xtr))), unit(emb.embed(list(xte)))
    return float((ytr[(b @ a.T).argmax(1)] == yte).mean())


def class_margin(emb, images, labels) -> float:
    """Mean cosine of same-label pairs minus that of different-label pairs."""
    u = unit(emb.embed(list(images)))
    sims = u @ u.T
    same = (labels[:, None] == labels[None, :]) & ~np.eye(len(labels), dtype=bool)
    return float(sims[same].mean() - sims[labels[:, None] != labels[None, :]].mean())


@pytest.fixture(scope="module")
def supcon(digit_slice):
    from embspace.images._contrastive import Contrastive

    xtr, ytr, _, _ = digit_slice
    emb = Contrastive(epochs=8, image_size=16, batch_size=64, seed=0, device="cpu", flip=False)  # digits: no mirrors
    emb.fit(context(xtr, labels=ytr))
    return emb


def test_supcon_beats_chance_and_an_untrained_net(supcon, digit_slice):
    from embspace.images._contrastive import Contrastive, _net

    xtr, ytr, xte, yte = digit_slice
    assert supcon.mode_ == "supcon" and supcon.temperature_ == 0.1
    assert len(supcon.losses_) == 8 and supcon.losses_[-1] < supcon.losses_[0]
    trained = agreement_with_database(supcon, (xtr, ytr), (xte, yte))
    untrained = Contrastive(epochs=1, image_size=16, seed=0, device="cpu", flip=False)
    torch.manual_seed(0)
    untrained.net_ = _net(untrained.widths, untrained.head_dim).eval()
    before = agreement_with_database(untrained, (xtr, ytr), (xte, yte))
    assert trained > 0.5 and trained > before + 0.02, (trained, before)  # 0.88 vs 0.845 here; chance 0.1
    margin_trained, margin_before = class_margin(supcon, xte, yte), class_margin(untrained, xte, yte)
    assert margin_trained > 2 * margin_before, (margin_trained, margin_before)
    v = supcon.embed(list(xte[:5]))
    assert v.shape == (5, 256) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)


def test_flip_averages_an_image_with_its_mirror_and_older_spaces_keep_one_view(supcon, digit_slice):
    """flip=True (clothes, photos): trained with mirror images, an image embedded as the normalised mean of its
    vector and its mirror image's; a space built before that (no "mirror_average" in its state) keeps one view."""
    from embspace.images._contrastive import Contrastive

    x = list(digit_slice[2][:6])
    one = supcon.embed(x)  # flip=False: one view
    mirrored = supcon.embed([im[:, ::-1].copy() for im in x])
    supcon.mirror_average = True
    try:
        both = supcon.embed(x)
    finally:
        supcon.mirror_average = False
    mean = (one + mirrored) / np.linalg.norm(one + mirrored, axis=1, keepdims=True)
    np.testing.assert_allclose(both, mean, atol=1e-5)
    state = {**supcon.state(), "flip": True, "mirror_average": True}
    assert Contrastive.restore(state, {}, supcon.assets()).mirror_average is True
    older = {k: v for k, v in state.items() if k not in ("flip", "mirror_average")}
    restored = Contrastive.restore(older, {}, supcon.assets())
    assert restored.flip is True and restored.mirror_average is False
    np.testing.assert_allclose(restored.embed(x), one, atol=1e-5)
    with pytest.raises(EmbspaceError, match="mirror_average"):
        Contrastive.restore({**state, "mirror_average": "yes"}, {}, supcon.assets())


def test_simclr_runs_without_labels_and_is_deterministic(digit_slice):
    from embspace.images._contrastive import Contrastive

    xtr = digit_slice[0][:128]
    runs = []
    for _ in range(2):
        emb = Contrastive(epochs=1, image_size=16, batch_size=64, seed=3, device="cpu")
        emb.fit(context(xtr))
        runs.append(emb.embed(list(xtr[:10])))
    assert emb.mode_ == "simclr" and emb.temperature_ == 0.2
    assert len(emb.losses_) == 1 and np.isfinite(emb.losses_[0])
    np.testing.assert_array_equal(runs[0], runs[1])
    assert emb.state()["objective"] == "simclr"


def test_contrastive_safetensors_round_trip(supcon, digit_slice, tmp_path):
    from embspace.images._contrastive import Contrastive

    state, assets = supcon.state(), supcon.assets()
    assert set(assets) == {"model.safetensors"} and assets["model.safetensors"][:8] != b"PK\x03\x04"
    assert state["architecture"]["widths"] == [32, 64, 128, 256] and state["image_size"] == 16
    xte = list(digit_slice[2][:20])
    expected = supcon.embed(xte)
    back = Contrastive.restore(state, supcon.extras(), assets)
    np.testing.assert_allclose(back.embed(xte), expected, rtol=0, atol=1e-5)
    path = tmp_path / "model.safetensors"  # a space's asset may come as a Path
    path.write_bytes(assets["model.safetensors"])
    np.testing.assert_allclose(
        Contrastive.restore(state, {}, {"model.safetensors": path}).embed(xte), expected, rtol=0, atol=1e-5
    )


def test_contrastive_refuses_damaged_or_mismatched_weights(supcon):
    import hashlib

    from embspace.images._contrastive import Contrastive

    state, blob = supcon.state(), supcon.assets()["model.safetensors"]
    damaged = bytearray(blob)
    damaged[len(damaged) // 2] ^= 0xFF
    with pytest.raises(EmbspaceError, match="not the network this space was trained with"):
        Contrastive.restore(state, {}, {"model.safetensors": bytes(damaged)})
    truncated = blob[: len(blob) // 3]
    sealed = {**state, "weights_sha256": hashlib.sha256(truncated).hexdigest()}  # a matching manifest
    with pytest.raises(EmbspaceError, match="cannot be read as safetensors"):
        Contrastive.restore(sealed, {}, {"model.safetensors": truncated})
    other = {**state, "architecture": {**state["architecture"], "widths": [32, 64, 128, 128]}}
    with pytest.raises(EmbspaceError, match="does not fit the network") as info:
        Contrastive.restore(other, {}, {"model.safetensors": blob})
    assert "\n" not in str(info.value)
    with pytest.raises(EmbspaceError, match="no model.safetensors"):
        Contrastive.restore(state, {}, {})
    with pytest.raises(EmbspaceError, match="width must be an integer between 1 and 2048"):
        Contrastive.restore({**state, "architecture": {**state["architecture"], "widths": [10**9]}}, {}, {})


def test_contrastive_interrupt_and_bad_settings(digit_slice):
    from embspace.images._contrastive import Contrastive

    class Interrupting:  # Ctrl-C arrives while the progress bar is updated, mid-epoch
        def __init__(self, **kwargs):
            pass

        def update(self, n):
            raise KeyboardInterrupt

        def set_postfix_str(self, s):
            pass

        def close(self):
            pass

    emb = Contrastive(epochs=3, image_size=16, batch_size=32, device="cpu")
    with pytest.raises(KeyboardInterrupt):
        emb.fit(context(digit_slice[0][:64], progress=Interrupting))
    with pytest.raises(EmbspaceError, match="not trained yet"):
        emb.embed(list(digit_slice[0][:2]))
    with pytest.raises(EmbspaceError, match="epochs must be an integer"):
        Contrastive(epochs=0)
    with pytest.raises(EmbspaceError, match="at least 2 images"):
        Contrastive(epochs=1, image_size=16, device="cpu").fit(context(digit_slice[0][:1]))
    with pytest.raises(EmbspaceError, match="labels for"):
        Contrastive(epochs=1, image_size=16, device="cpu").fit(context(digit_slice[0][:8], labels=np.zeros(5)))


# ---- end to end: images.build, the space folder, query images, the CLI ------------------------------
@pytest.fixture
def digit_folder(tmp_path, digits) -> Path:
    """digits/<label>/<n>.png: 90 real digit images (three classes), 8x8 grayscale PNGs."""
    from PIL import Image

    images, labels = digits
    root = tmp_path / "digits"
    for c in (0, 1, 7):
        (root / str(c)).mkdir(parents=True)
        for k, i in enumerate(np.flatnonzero(labels == c)[:30]):
            Image.fromarray(images[i][:, :, 0], mode="L").save(root / str(c) / f"{k}.png")
    return root


@pytest.mark.parametrize("method", ["contrastive", "cnn"])
def test_build_save_load_and_query(digit_folder, tmp_path, method):
    import embspace
    from embspace import images

    knobs = {"epochs": 2, "image_size": 16, "batch_size": 32} if method == "contrastive" else {"image_size": 32}
    space = images.build(digit_folder, method, labels="folders", **knobs)
    assert space.n == 90 and space.metric == "cosine" and space.info["images"]["method"] == method
    assert space.dim == (256 if method == "contrastive" else 1280)
    if method == "contrastive":
        assert space.info["images"]["objective"] == "supcon" and len(space.info["images"]["losses"]) == 2
        assert "model.safetensors" in space.assets
    embspace.save(space, tmp_path / "d.space")
    loaded = embspace.load(tmp_path / "d.space")
    row = loaded.index("7/3.png")
    query = images.embed_images(loaded, digit_folder / "7" / "3.png")  # the network restored from the folder
    np.testing.assert_allclose(query[0], loaded.vectors[row], rtol=0, atol=1e-4)
    assert loaded.neighbors(query[0], k=1)[0].id == "7/3.png"


def test_cli_contrastive_build_and_cuda_refusal(digit_folder, tmp_path):
    from click.testing import CliRunner

    from embspace.cli import main

    out = tmp_path / "c.space"
    args = ["-q", "build", "images", str(digit_folder), "--labels", "folders", "--method", "contrastive"]
    done = CliRunner().invoke(main, [*args, "--epochs", "1", "--image-size", "16", "-o", str(out)])
    assert done.exit_code == 0, done.output
    assert (out / "assets" / "model.safetensors").is_file()
    if not torch.cuda.is_available():
        failed = CliRunner().invoke(main, [*args, "--device", "cuda", "-o", str(tmp_path / "g.space")])
        assert failed.exit_code != 0 and "sees no CUDA GPU" in failed.output
        assert "Traceback" not in failed.output and not (tmp_path / "g.space").exists()
