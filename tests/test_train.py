import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from filmcolor.network import Network
from train import checkpoint, data, losses, model
from train import colour as color
from train.export import export
from train.loop import TrainConfig, amp_context, build_network, fit, train_step

REPO = Path(__file__).resolve().parent.parent


def make_photos(folder: Path, n: int, size=(96, 80), alpha_every=0, seed=0) -> list[Path]:
    """Synthetic colour photos: smooth gradients with a coloured disc."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        h, w = size
        yy, xx = np.mgrid[0:h, 0:w]
        im = np.zeros((h, w, 3), np.uint8)
        base = rng.integers(0, 255, 3)
        im[:] = base
        im[..., 0] = (xx * 255 // w).astype(np.uint8)
        cv2.circle(im, (w // 2, h // 2), h // 4, tuple(int(v) for v in rng.integers(0, 255, 3)), -1)
        if alpha_every and i % alpha_every == 0:
            a = np.zeros((h, w), np.uint8)
            cv2.circle(a, (w // 2, h // 2), h // 3, 255, -1)
            path = folder / f"cut{i:03d}.png"
            cv2.imwrite(str(path), np.dstack([im, a]))
        else:
            path = folder / f"p{i:03d}.jpg"
            cv2.imwrite(str(path), im)
        paths.append(path)
    return paths


def test_find_images_errors(tmp_path):
    with pytest.raises(data.DataError, match="no such folder"):
        data.find_images([tmp_path / "missing"])
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("hi")
    with pytest.raises(data.DataError, match="no images found"):
        data.find_images([tmp_path / "empty"])


def test_find_images_is_recursive(tmp_path):
    make_photos(tmp_path / "a", 2)
    make_photos(tmp_path / "a" / "deep", 3)
    assert len(data.find_images([tmp_path / "a"])) == 5


def test_split_is_seeded_disjoint_and_complete(tmp_path):
    files = make_photos(tmp_path, 20)
    train1, val1 = data.split_files(files, 0.2, seed=3)
    train2, val2 = data.split_files(files, 0.2, seed=3)
    _, val3 = data.split_files(files, 0.2, seed=4)
    assert (train1, val1) == (train2, val2)
    assert val1 != val3
    assert len(val1) == 4 and not set(train1) & set(val1)
    assert sorted(train1 + val1) == sorted(files)


def test_holdout_keeps_whole_folders_out_of_training(tmp_path):
    a = make_photos(tmp_path / "data" / "a", 5)
    b = make_photos(tmp_path / "data" / "b", 3, seed=1)
    other = make_photos(tmp_path / "elsewhere", 2, seed=2)
    train, val = data.holdout(data.find_images([tmp_path / "data"]), [tmp_path / "data" / "b", tmp_path / "elsewhere"])
    assert sorted(train) == sorted(a)
    assert sorted(val) == sorted(b + other)
    with pytest.raises(data.DataError, match="every training image"):
        data.holdout(b, [tmp_path / "data"])


def test_a_fraction_of_the_photos_keeps_every_source_and_nests(tmp_path):
    make_photos(tmp_path / "d" / "big", 40)
    make_photos(tmp_path / "d" / "small", 4, seed=1)
    files = data.find_images([tmp_path / "d"])
    quarter = data.subsample(files, [tmp_path / "d"], 0.25, seed=0)
    half = data.subsample(files, [tmp_path / "d"], 0.5, seed=0)
    count = lambda fs, src: sum(f.parent.name == src for f in fs)  # noqa: E731
    assert (count(quarter, "big"), count(quarter, "small")) == (10, 1)
    assert (count(half, "big"), count(half, "small")) == (20, 2)
    assert set(quarter) <= set(half) and data.subsample(files, [tmp_path / "d"], 1.0, 0) == files
    assert set(data.subsample(files, [tmp_path / "d"], 0.25, seed=1)) != set(quarter)
    with pytest.raises(data.DataError, match="fraction"):
        data.subsample(files, [tmp_path / "d"], 0, 0)
    cfg = tiny_cfg(tmp_path, epochs=1, data=[str(tmp_path / "d")], data_fraction=0.5, val_fraction=0.1)
    fit(cfg, progress=False)
    train_files, val_files = data.read_split(Path(cfg.out) / "split.json")
    assert len(val_files) == 4 and 18 <= len(train_files) <= 20  # half of the 36 left, both sources kept
    assert {f.parent.name for f in train_files} == {"big", "small"}


@pytest.mark.parametrize("epoch_size,steps", [(0, 3), (20, 5)])
def test_an_epoch_draws_as_many_crops_as_photos_or_as_asked(tmp_path, epoch_size, steps):
    make_photos(tmp_path / "photos", 16)  # 12 train, 4 validation
    cfg = tiny_cfg(tmp_path, epochs=1, epoch_size=epoch_size)
    fit(cfg, progress=False)
    state = torch.load(Path(cfg.out) / "last.pt", weights_only=True)
    assert state["scheduler"]["last_epoch"] == steps  # optimiser steps of batch 4


def test_sources_are_first_folders_below_each_root(tmp_path):
    roots = [tmp_path / "photos", tmp_path / "cutouts"]
    assert data.source_of(tmp_path / "photos" / "ifct" / "x" / "1.jpg", roots) == "photos/ifct"
    assert data.source_of(tmp_path / "cutouts" / "2.png", roots) == "cutouts"


@pytest.mark.parametrize("balance, expected", [(1.0, (100, 25, 4)), (0.5, (10, 5, 2)), (0.0, (1, 1, 1))])
def test_source_weights_share_sources_by_count_to_the_power(tmp_path, balance, expected):
    files = [tmp_path / "d" / src / f"{i}.jpg" for src, n in (("big", 100), ("mid", 25), ("small", 4))
             for i in range(n)]
    w, share = data.source_weights(files, [tmp_path / "d"], balance)
    assert w.sum() == pytest.approx(1.0)
    got = [w[:100].sum(), w[100:125].sum(), w[125:].sum()]
    assert got == pytest.approx([e / sum(expected) for e in expected])
    assert share["d/big"] == pytest.approx(got[0])
    assert len(set(np.round(w[:100], 12))) == 1  # photos of a source alike


def test_balanced_sampler_order_depends_on_seed_and_epoch_only():
    w = np.array([0.5, 0.3, 0.2, 0.0])
    s = data.BalancedSampler(w, 1000, seed=3)
    first = list(s)
    assert len(first) == len(s) == 1000
    assert first == list(data.BalancedSampler(w, 1000, seed=3))  # a resumed run draws the same
    s.set_epoch(1)
    assert list(s) != first
    picks = [i for i, _ in first]
    assert 3 not in picks  # weight 0: never drawn
    assert 0.4 < picks.count(0) / 1000 < 0.6
    assert [k for _, k in first] == list(range(1000))
    ranks = [list(data.BalancedSampler(w, 1000, seed=3, rank=r, world=2)) for r in (0, 1)]
    assert sorted(ranks[0] + ranks[1]) == sorted(first) and not set(ranks[0]) & set(ranks[1])


def test_a_photo_drawn_twice_gets_two_crops(tmp_path):
    files = make_photos(tmp_path, 1, size=(200, 300))
    ds = data.PhotoDataset(files, data.DataConfig(size=32), train=True, seed=1)
    assert torch.equal(ds[(0, 5)], ds[(0, 5)])
    assert not torch.equal(ds[(0, 5)], ds[(0, 6)])


def test_dataset_skips_unreadable_and_grey_and_counts_them(tmp_path):
    make_photos(tmp_path, 4)
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    cv2.imwrite(str(tmp_path / "grey.png"), np.full((64, 64), 90, np.uint8))
    ds = data.PhotoDataset(data.find_images([tmp_path]), data.DataConfig(size=32), train=True)
    assert len(ds) == 4
    assert len(ds.skipped) == 2
    lab = ds[0]
    assert lab.shape == (3, 32, 32) and lab.dtype == torch.float32
    assert 0 <= lab[0].min() and lab[0].max() <= 100


def test_dataset_composites_cutouts_onto_photos(tmp_path):
    make_photos(tmp_path, 6, alpha_every=3)
    ds = data.PhotoDataset(data.find_images([tmp_path]), data.DataConfig(size=32), train=False)
    cut = [i for i, f in enumerate(ds.files) if f.suffix == ".png"]
    assert cut
    lab = ds[cut[0]]
    assert lab.shape == (3, 32, 32)
    assert torch.isfinite(lab).all()


def test_random_crops_change_with_epoch_but_repeat_with_seed(tmp_path):
    files = make_photos(tmp_path, 2, size=(200, 300))
    ds = data.PhotoDataset(files, data.DataConfig(size=32), train=True, seed=1)
    a = ds[0]
    assert torch.equal(a, ds[0])
    ds.epoch = 1
    assert not torch.equal(a, ds[0])


@pytest.mark.parametrize("loss_name", ["mse", "classify"])
def test_train_step_learns_a_batch(loss_name):
    torch.manual_seed(0)
    cfg = TrainConfig(arch="unet", loss=loss_name, pretrained=False)
    net = build_network(cfg)
    # a fixed batch: L ramps, a/b a colour that depends on L
    L = torch.linspace(10, 90, 32).view(1, 1, 1, 32).expand(4, 1, 32, 32)
    ab = torch.stack([L[:, 0] - 50, 40 - L[:, 0] / 2], dim=1)
    lab = torch.cat([L, ab], dim=1).contiguous()
    loss_fn = losses.LOSSES[loss_name]()
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    autocast, scaler = amp_context(torch.device("cpu"))
    first = train_step(net, loss_fn, lab, opt, scaler, autocast)
    for _ in range(40):
        last = train_step(net, loss_fn, lab, opt, scaler, autocast)
    assert last < 0.7 * first


def test_soft_encoding_weights_and_nearest_bin():
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [50.0, 50.0], [-10.0, 0.0], [0.0, -10.0]])
    ab = torch.tensor([9.0, 1.0]).view(1, 2, 1, 1)
    idx, w = losses.soft_encode(ab, centres, k=3)
    assert idx[0, 0, 0, 0] == 1
    assert torch.allclose(w.sum(1), torch.ones(1, 1, 1))


def test_rebalancing_weighs_rare_bins_more():
    prior = torch.tensor([0.7, 0.2, 0.09, 0.01])
    w = losses.rebalance_weights(prior)
    assert w[3] > w[2] > w[1] > w[0]
    assert torch.isclose((prior * w).sum(), torch.tensor(1.0))


def tiny_cfg(tmp_path, **kw) -> TrainConfig:
    base = dict(
        data=[str(tmp_path / "photos")], out=str(tmp_path / "run"), arch="unet", loss="mse",
        pretrained=False, size=32, epochs=2, batch_size=4, val_fraction=0.25, workers=0, warmup_steps=2,
    )
    base.update(kw)
    return TrainConfig(**base)


def test_fit_writes_a_run_and_resumes(tmp_path):
    make_photos(tmp_path / "photos", 16)
    cfg = tiny_cfg(tmp_path)
    _, best = fit(cfg, progress=False)
    run = Path(cfg.out)
    for name in ["config.json", "split.json", "log.csv", "last.pt", "best.safetensors", "grid_002.png", "curves.png"]:
        assert (run / name).exists(), name
    assert set(best) >= {"psnr", "psnr_grey", "colorfulness", "colorfulness_truth"}
    assert len((run / "log.csv").read_text().strip().splitlines()) == 3  # header + 2 epochs
    grid = cv2.imread(str(run / "grid_002.png"))
    assert grid.shape[1] == 3 * 32 and grid.shape[0] == 4 * 32  # 4 validation images
    # resume: one more epoch, appended to the same log
    fit(tiny_cfg(tmp_path, epochs=3), resume=True, progress=False)
    assert len((run / "log.csv").read_text().strip().splitlines()) == 4
    state = torch.load(run / "last.pt", weights_only=True)
    assert state["epoch"] == 3


def rule_photos(folder: Path, n: int, seed: int, size=(64, 64)) -> None:
    """Photos whose colour follows their lightness by one rule (dark blue, light
    orange), each with its own random shapes: learnable, but only from many."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        L = cv2.GaussianBlur(rng.uniform(15, 90, (size[0] // 8, size[1] // 8)), (3, 3), 0)
        L = cv2.resize(L, size[::-1], interpolation=cv2.INTER_CUBIC).clip(5, 95).astype(np.float32)
        lab = np.dstack([L, (L - 50) * 0.6, (L - 50) * 0.9]).astype(np.float32)
        rgb = (cv2.cvtColor(lab, cv2.COLOR_LAB2RGB).clip(0, 1) * 255).round().astype(np.uint8)
        cv2.imwrite(str(folder / f"r{i:03d}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def test_training_learns_what_holds_beyond_the_photos_it_saw(tmp_path):
    # held-out photos share only the rule, not a pixel: beating grey on them, more
    # and more with the epochs, is learning, not remembering one batch
    rule_photos(tmp_path / "photos" / "train", 24, seed=1)
    rule_photos(tmp_path / "held", 6, seed=2)
    cfg = tiny_cfg(tmp_path, epochs=6, val_data=[str(tmp_path / "held")], data=[str(tmp_path / "photos")],
                   balance=0.0, lr=3e-3, size=64)
    fit(cfg, progress=False)
    import csv

    with open(Path(cfg.out) / "log.csv") as f:
        rows = [{k: float(v) for k, v in row.items() if k in ("psnr", "psnr_grey")} for row in csv.DictReader(f)]
    assert len(rows) == 6, rows
    assert rows[-1]["psnr"] > rows[0]["psnr"] + 1
    assert rows[-1]["psnr"] > rows[-1]["psnr_grey"] + 2, rows


def test_fit_validates_on_held_out_folders(tmp_path):
    make_photos(tmp_path / "photos" / "a", 8)
    held = make_photos(tmp_path / "photos" / "b", 3, seed=5)
    cfg = tiny_cfg(tmp_path, epochs=1, val_data=[str(tmp_path / "photos" / "b")], balance=0.0)
    _, best = fit(cfg, progress=False)
    train_files, val_files = data.read_split(Path(cfg.out) / "split.json")
    assert sorted(val_files) == sorted(held) and not set(train_files) & set(held)
    assert len(train_files) == 8 and "psnr" in best


def test_hold_out_folders_are_neither_trained_on_nor_validated_on(tmp_path):
    make_photos(tmp_path / "photos" / "a", 8)
    chooser = make_photos(tmp_path / "photos" / "b", 3, seed=5)
    reporter = make_photos(tmp_path / "photos" / "c", 4, seed=6)
    cfg = tiny_cfg(tmp_path, epochs=1, val_data=[str(tmp_path / "photos" / "b")],
                   hold_out=[str(tmp_path / "photos" / "c")], balance=0.0)
    fit(cfg, progress=False)
    train_files, val_files = data.read_split(Path(cfg.out) / "split.json")
    assert sorted(val_files) == sorted(chooser) and len(train_files) == 8
    assert not (set(train_files) | set(val_files)) & set(reporter)
    _, info = checkpoint.load(Path(cfg.out) / "best.safetensors")
    assert info.data["held_out_folders"] == ["photos/c"]


def _encoder_step(encoder_lr: float, freeze_bn: bool):
    """One step of a small effunet; returns (network before, network after, optimizer)."""
    import copy

    from train.loop import freezes_bn, param_groups

    torch.manual_seed(0)
    cfg = TrainConfig(encoder="lite0", pretrained=False, encoder_lr=encoder_lr, freeze_bn=freeze_bn,
                      decoder=(24, 16, 16, 8), loss="mse", lr=1e-2)
    net = build_network(cfg)
    before = copy.deepcopy(net)
    opt = torch.optim.AdamW(param_groups(net, cfg))
    L = torch.rand(2, 1, 64, 64) * 80 + 10
    lab = torch.cat([L, torch.randn(2, 2, 64, 64) * 20], 1)
    autocast, scaler = amp_context(torch.device("cpu"))
    train_step(net, losses.LOSSES["mse"](), lab, opt, scaler, autocast, freezes_bn(cfg))
    return before, net, opt


def _moved(a: torch.nn.Module, b: torch.nn.Module, kind: str) -> bool:
    pa, pb = (dict(m.named_parameters() if kind == "weights" else m.named_buffers()) for m in (a, b))
    return any(not torch.equal(pa[k], pb[k]) for k in pa if not k.endswith("num_batches_tracked"))


def test_a_frozen_encoder_keeps_its_weights_and_statistics_while_the_decoder_learns():
    before, after, opt = _encoder_step(0.0, False)
    assert not _moved(before.encoder, after.encoder, "weights")
    assert not _moved(before.encoder, after.encoder, "stats")
    assert _moved(before.decoder, after.decoder, "weights")
    assert not any(p.requires_grad for p in after.encoder.parameters())
    assert sum(len(g["params"]) for g in opt.param_groups) == len(list(after.decoder.parameters())) + len(
        list(after.head.parameters()))


def test_a_slow_encoder_learns_at_its_share_of_the_rate_and_frozen_bn_keeps_its_statistics():
    before, after, opt = _encoder_step(0.1, True)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([1e-2, 1e-3])
    assert _moved(before.encoder, after.encoder, "weights")
    assert not _moved(before.encoder, after.encoder, "stats")
    assert _moved(before.decoder, after.decoder, "stats")  # the decoder's BatchNorm still follows its batches
    _, free, _ = _encoder_step(0.1, False)
    assert _moved(before.encoder, free.encoder, "stats")


def test_decoder_widths_reach_the_checkpoint_and_the_exported_model(tmp_path):
    net = build_network(TrainConfig(encoder="lite0", pretrained=False, decoder=(40, 32, 24, 16)))
    assert [b[0].out_channels for b in net.decoder] == [40, 32, 24, 16]
    path = tmp_path / "w.safetensors"
    info = checkpoint.ModelInfo(arch="effunet", params=model.config_to_dict(net.cfg), train_size=32)
    checkpoint.save(path, net, info)
    loaded, _ = checkpoint.load(path)
    assert [b[0].out_channels for b in loaded.decoder] == [40, 32, 24, 16]
    export(path, tmp_path / "w.onnx")
    assert Network(tmp_path / "w.onnx", device="cpu").info.params["decoder"] == [40, 32, 24, 16]


def test_resume_with_another_network_or_freezing_is_one_line(tmp_path):
    make_photos(tmp_path / "photos", 12)
    fit(tiny_cfg(tmp_path, epochs=1), progress=False)
    for change in ({"encoder_lr": 0.0}, {"loss": "classify"}):
        with pytest.raises(data.DataError, match="--resume: the run in .* was started with --"):
            fit(tiny_cfg(tmp_path, epochs=2, **change), resume=True, progress=False)
    fit(tiny_cfg(tmp_path, epochs=2), resume=True, progress=False)  # the same flags resume


def test_a_hold_out_folder_inside_the_validation_folder_chooses_nothing(tmp_path):
    make_photos(tmp_path / "photos" / "a", 8)
    make_photos(tmp_path / "photos" / "v", 3, seed=5)
    inner = make_photos(tmp_path / "photos" / "v" / "kept", 2, seed=6)
    cfg = tiny_cfg(tmp_path, epochs=1, val_data=[str(tmp_path / "photos" / "v")],
                   hold_out=[str(tmp_path / "photos" / "v" / "kept")], balance=0.0)
    fit(cfg, progress=False)
    train_files, val_files = data.read_split(Path(cfg.out) / "split.json")
    assert len(val_files) == 3 and not (set(train_files) | set(val_files)) & set(inner)


def test_each_epoch_is_judged_at_its_best_decoding(tmp_path):
    from train.loop import TEMPERATURES, evaluate, evaluate_at_best_decoding, selection_score

    make_photos(tmp_path / "photos", 12)
    cfg = tiny_cfg(tmp_path, epochs=1, loss="classify")
    net, best = fit(cfg, progress=False)
    _, info = checkpoint.load(Path(cfg.out) / "best.safetensors")
    assert info.params["head"]["temperature"] == best["temperature"] in TEMPERATURES
    assert info.params["head"]["chroma_gain"] == best["chroma_gain"]
    assert "temperature" in (Path(cfg.out) / "log.csv").read_text().splitlines()[0]
    val = torch.stack([torch.cat([torch.full((1, 32, 32), 40.0 + 10 * i), torch.randn(2, 32, 32) * 20])
                       for i in range(3)])
    chosen = evaluate_at_best_decoding(net, None, val, 4, torch.device("cpu"), (0.2, 0.6, 1.0), (1.0, 1.5))
    assert (net.head.cfg.temperature, net.head.cfg.chroma_gain) == (chosen["temperature"], chosen["chroma_gain"])
    figures = {}
    for t in (0.2, 0.6, 1.0):
        for g in (1.0, 1.5):
            net.head.cfg.temperature, net.head.cfg.chroma_gain = t, g
            figures[t, g] = evaluate(net, None, val, 4, torch.device("cpu"))
            assert selection_score(figures[t, g]) <= selection_score(chosen)
    assert figures[chosen["temperature"], chosen["chroma_gain"]]["psnr"] == pytest.approx(chosen["psnr"])
    # a gain scales the colour: more of it, more colourful
    assert figures[0.6, 1.5]["colorfulness"] > figures[0.6, 1.0]["colorfulness"]


def test_validation_keeps_no_autograd_graph():
    """Every epoch's validation holds the network's output for all its crops: with
    autograd on, it would hold every activation that made them too."""
    from train import model
    from train.loop import evaluate_at_best_decoding

    torch.manual_seed(0)
    net = model.build("unet", {"channels": [8, 16, 16, 32, 32], "head": {"kind": "classify"}})
    val = torch.cat([torch.rand(4, 1, 32, 32) * 100, torch.randn(4, 2, 32, 32) * 20], 1)
    outputs = []

    def loss(out, ab):
        outputs.append(out)
        return out.mean()

    evaluate_at_best_decoding(net, loss, val, 2, torch.device("cpu"), (0.5, 1.0), (1.0,))
    assert len(outputs) == 2 and not any(o.requires_grad for o in outputs)


def test_checkpoints_name_data_folders_without_the_trainers_paths(tmp_path):
    from train.loop import portable_folders

    d = str(tmp_path / "data")
    assert portable_folders([f"{d}/photos", f"{d}/cuts"], [f"{d}/photos", f"{d}/cuts", f"{d}/photos/held"]) == [
        "photos", "cuts"]
    assert portable_folders([f"{d}/photos/held"], [f"{d}/photos", f"{d}/photos/held"]) == ["photos/held"]
    assert portable_folders([d], [d]) == ["data"]
    make_photos(tmp_path / "photos" / "a", 8)
    make_photos(tmp_path / "photos" / "b", 3, seed=5)
    cfg = tiny_cfg(tmp_path, epochs=1, val_data=[str(tmp_path / "photos" / "b")])
    fit(cfg, progress=False)
    _, info = checkpoint.load(Path(cfg.out) / "best.safetensors")
    assert info.data["folders"] == ["photos"] and info.data["validation_folders"] == ["photos/b"]
    assert str(tmp_path) not in json.dumps(info.data)


def test_resume_continues_exactly_where_the_run_stopped(tmp_path, monkeypatch):
    import train.loop as loop

    make_photos(tmp_path / "photos", 16)
    whole, _ = fit(tiny_cfg(tmp_path, out=str(tmp_path / "whole"), epochs=3), progress=False)
    judged = loop.evaluate_at_best_decoding
    calls = []

    def interrupted_in_epoch_2(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return judged(*a, **k)

    monkeypatch.setattr(loop, "evaluate_at_best_decoding", interrupted_in_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        fit(tiny_cfg(tmp_path, out=str(tmp_path / "cut"), epochs=3), progress=False)
    monkeypatch.setattr(loop, "evaluate_at_best_decoding", judged)
    assert torch.load(tmp_path / "cut" / "last.pt", weights_only=True)["epoch"] == 1
    resumed, _ = fit(tiny_cfg(tmp_path, out=str(tmp_path / "cut"), epochs=3), resume=True, progress=False)
    fresh, _ = fit(tiny_cfg(tmp_path, out=str(tmp_path / "fresh"), epochs=2), progress=False)
    a, b, c = whole.state_dict(), resumed.state_dict(), fresh.state_dict()
    # the resumed run has the weights, optimiser, schedule and data order it stopped with
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-5) for k in a)
    assert not all(torch.allclose(a[k].float(), c[k].float(), atol=1e-5) for k in a)


def test_fit_reports_empty_data(tmp_path):
    (tmp_path / "photos").mkdir()
    with pytest.raises(data.DataError):
        fit(tiny_cfg(tmp_path), progress=False)


def test_too_few_photos_for_a_batch_says_which_batch_size_fits(tmp_path):
    make_photos(tmp_path / "photos", 4)
    with pytest.raises(data.DataError, match=r"3 training images: fewer than one batch of 4; give --batch-size 3"):
        fit(tiny_cfg(tmp_path, val_fraction=0.25), progress=False)


def test_the_command_says_where_the_model_went_and_writes_files_others_can_read(tmp_path):
    make_photos(tmp_path / "photos", 12)
    run = tmp_path / "run"
    r = subprocess.run(
        [sys.executable, "-m", "train", "--data", str(tmp_path / "photos"), "--out", str(run), "--arch", "unet",
         "--loss", "mse", "--no-pretrained", "--size", "32", "--epochs", "1", "--batch-size", "4",
         "--workers", "0", "--max-steps", "2"],
        capture_output=True, text=True, cwd=REPO, timeout=300)
    assert r.returncode == 0, r.stderr
    assert f"python -m train.export {run} {run / 'model.onnx'}" in r.stdout + r.stderr
    assert os.stat(run / "best.safetensors").st_mode & 0o777 == 0o644  # not safetensors' own 0600


def test_export_writes_the_shipped_format(tmp_path):
    make_photos(tmp_path / "photos", 12)
    cfg = tiny_cfg(tmp_path, epochs=1, loss="classify")
    fit(cfg, progress=False)
    out = tmp_path / "model.onnx"
    info = export(Path(cfg.out), out)
    net = Network(out, device="cpu")
    back = net.info
    assert back.arch == "unet" and back.params["head"]["kind"] == "classify" and net.kind == "classify"
    assert back.validation == info.validation and "psnr" in back.validation
    assert back.data["images"] == 9
    ab, raw = net.run(np.full((1, 1, 32, 32), 50.0, np.float32), raw=True)
    assert ab.shape == (1, 2, 32, 32) and raw.shape == (1, len(net.ab_centres), 16, 16)


def test_export_last_takes_the_final_epoch(tmp_path):
    make_photos(tmp_path / "photos", 12)
    cfg = tiny_cfg(tmp_path, epochs=2, loss="classify")
    fit(cfg, progress=False)
    out = tmp_path / "last.onnx"
    info = export(Path(cfg.out), out, last=True)
    assert info.validation["epoch"] == 2
    back = Network(out, device="cpu")
    assert back.info.validation["epoch"] == 2
    assert back.decoding.temperature == info.validation["temperature"]
    # the final epoch's weights, not the best epoch's: the graph gives what they give
    net, _ = checkpoint.load(Path(cfg.out) / "best.safetensors")
    net.load_state_dict(torch.load(Path(cfg.out) / "last.pt", weights_only=True)["model"])
    L = torch.rand(1, 1, 32, 32) * 100
    with torch.no_grad():
        want = net.eval()(color.l_to_net(L)).numpy()
    assert np.abs(back.run(L.numpy(), raw=True)[1] - want).max() < 1e-3


@pytest.mark.parametrize("module", ["train", "train.temperature", "train.export"])
def test_every_training_command_has_help(module):
    r = subprocess.run([sys.executable, "-m", module, "-h"], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0 and "Usage:" in r.stdout, r.stderr


def test_training_without_its_extra_says_what_to_install_in_one_line():
    # torch made unimportable in this interpreter only, as in an install without the train extra
    code = ("import runpy, sys; sys.modules['torch'] = None; sys.argv[1:] = ['--help']; "
            "runpy.run_module('train', run_name='__main__', alter_sys=True)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert r.returncode != 0 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.strip().splitlines() == [r.stderr.strip()]
    assert "training needs torch" in r.stderr and "filmcolor[train]" in r.stderr


def test_the_defaults_are_the_shipped_recipe():
    """A user who runs the README's `python -m train --data ...` trains what the bundled model was
    trained with, not a recipe the README says failed."""
    import re

    readme = (REPO / "README.md").read_text()
    shipped = readme[readme.index("The shipped weights come from these commands"):]
    shipped = shipped[: shipped.index("python -m train.export")]
    d = TrainConfig()
    assert re.search(r"--encoder (\w+)", shipped).group(1) == d.encoder
    assert float(re.search(r"--rebalance ([\d.]+)", shipped).group(1)) == d.rebalance
    assert int(re.search(r"--epochs (\d+)", shipped).group(1)) == d.epochs


def test_cli_missing_data_is_one_line(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "train", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "r")],
        capture_output=True, text=True, cwd=REPO,
    )
    assert r.returncode == 2
    assert "no such folder" in r.stderr and "Traceback" not in r.stderr


WORKER = """
import sys, torch
from train.loop import TrainConfig, fit
cfg = TrainConfig(data=[sys.argv[1]], out=sys.argv[2], arch="unet", loss="mse", pretrained=False,
                  size=32, epochs=1, batch_size=2, val_fraction=0.25, workers=0, max_steps=3)
net, _ = fit(cfg, progress=False)
import os
torch.save(dict(net.named_parameters()), f"{sys.argv[2]}/rank{os.environ['RANK']}.pt")
"""


def test_ddp_two_cpu_processes_agree(tmp_path):
    make_photos(tmp_path / "photos", 16)
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    # --standalone: the rendezvous binds a free port itself, so two test runs on one machine
    # cannot collide (a port picked here and released could be taken before torch binds it)
    r = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         str(script), str(tmp_path / "photos"), str(run)],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    a = torch.load(run / "rank0.pt", weights_only=True)
    b = torch.load(run / "rank1.pt", weights_only=True)
    torch.manual_seed(0)  # as fit seeds itself: the starting weights
    start = dict(build_network(TrainConfig(arch="unet", loss="mse", pretrained=False)).named_parameters())
    assert any(not torch.equal(a[k], start[k]) for k in a)  # it trained
    # parameters agree (DDP averages gradients); batch-norm buffers are per process
    # and broadcast from rank 0 at each step, so only rank 0's are saved anyway
    for k in a:
        assert torch.allclose(a[k].float(), b[k].float(), atol=1e-6), k


# ------------------------------------------------------------------ distillation


def _classify_unet_file(path: Path, seed: int) -> Path:
    from filmcolor.network import ModelInfo
    from train.export import to_onnx

    torch.manual_seed(seed)
    net = model.build("unet", {"channels": [8, 16, 16, 32, 32], "head": {"kind": "classify"}})
    to_onnx(net, ModelInfo(arch="unet", params=model.config_to_dict(net.cfg)), path)
    return path


def test_a_teacher_weighs_its_share_of_the_target():
    torch.manual_seed(0)
    loss_fn = losses.ClassifyLoss(lam=1.0)
    q = len(loss_fn.centres)
    out = torch.randn(2, q, 3, 4)
    ab = torch.randn(2, 2, 6, 8) * 20
    teacher = torch.softmax(torch.randn(2, q, 3, 4) * 3, dim=1)
    plain = loss_fn(out, ab)
    against_teacher = -(teacher * torch.log_softmax(out, dim=1)).sum(1).mean()
    assert torch.isclose(loss_fn(out, ab, teacher, 0.0), plain)
    assert torch.isclose(loss_fn(out, ab, teacher, 1.0), against_teacher)
    assert torch.isclose(loss_fn(out, ab, teacher, 0.3), 0.7 * plain + 0.3 * against_teacher)
    with pytest.raises(ValueError, match="teacher"):
        loss_fn(out, ab, teacher[:, :, :2], 0.5)
    # all of the target on the teacher: the logits learn its distribution, not the truth's
    logits = torch.zeros(2, q, 3, 4, requires_grad=True)
    opt = torch.optim.Adam([logits], lr=0.1)
    for _ in range(300):
        opt.zero_grad()
        loss_fn(logits, ab, teacher, 1.0).backward()
        opt.step()
    assert (torch.softmax(logits, 1) - teacher).abs().max() < 0.02


def test_teachers_give_the_mean_of_their_distributions_and_refuse_other_models(tmp_path, tiny_model):
    from train.teachers import Teachers

    paths = [_classify_unet_file(tmp_path / f"t{s}.onnx", s) for s in (1, 2)]
    teachers = Teachers(paths, stride=2)
    L = torch.rand(2, 1, 64, 96) * 100
    got = teachers.probs(L)
    assert got.shape == (2, len(model.ab_bin_centres()), 32, 48)
    each = []
    for p in paths:
        raw = torch.from_numpy(Network(p, device="cpu").run(L.numpy(), raw=True)[1])
        each.append(torch.softmax(raw, dim=1))
    assert torch.allclose(got, (each[0] + each[1]) / 2, atol=1e-6)
    assert not torch.allclose(each[0], each[1], atol=1e-3)  # two teachers that differ
    with pytest.raises(data.DataError, match="--teacher .*not a classification model"):
        Teachers([tiny_model], stride=2)  # a regression head
    with pytest.raises(data.DataError, match="stride 2, the student's is 4"):
        Teachers(paths, stride=4)
    with pytest.raises(data.DataError, match="--teacher: .*no such model file"):
        Teachers([tmp_path / "missing.onnx"], stride=2)


def test_fit_learns_from_teachers_and_starts_from_init(tmp_path, monkeypatch):
    from train.teachers import Teachers

    make_photos(tmp_path / "photos", 16)
    teacher = _classify_unet_file(tmp_path / "teacher.onnx", 3)
    first = tiny_cfg(tmp_path, loss="classify", epochs=1, out=str(tmp_path / "first"))
    fit(first, progress=False)
    start = tmp_path / "first" / "best.safetensors"
    # lr 0: the weights stay the init's exactly, so the run did start from them
    cfg = tiny_cfg(tmp_path, loss="classify", epochs=1, lr=0.0, init=str(start), teachers=[str(teacher)],
                   teacher_weight=0.5, out=str(tmp_path / "second"))
    asked = []
    probs = Teachers.probs
    monkeypatch.setattr(Teachers, "probs", lambda self, L: asked.append(L.shape) or probs(self, L))
    fit(cfg, progress=False)
    assert len(asked) == 3 and asked[0] == (4, 1, 32, 32)  # every training step (12 photos, batch 4) asked
    before, _ = checkpoint.load(start)
    after, info = checkpoint.load(tmp_path / "second" / "best.safetensors")
    weights = [k for k, v in before.state_dict().items() if k.endswith("weight")]
    assert all(torch.equal(before.state_dict()[k], after.state_dict()[k]) for k in weights)
    assert info.data["teacher_weight"] == 0.5
    assert info.data["teachers"] == [f"{tmp_path.name}/teacher.onnx"] and info.data["init"] == "first/best.safetensors"
    # a resume must keep the teachers: without them it is another run
    with pytest.raises(data.DataError, match="--resume: .*started with --teacher "):
        fit(dataclasses.replace(cfg, teachers=[], epochs=2), resume=True, progress=False)
    # the teacher is in the loss: the same step with and without it differs
    fresh = build_network(tiny_cfg(tmp_path, loss="classify"))
    loss_fn = losses.ClassifyLoss(lam=1.0)
    lab = torch.cat([torch.rand(4, 1, 32, 32) * 100, torch.randn(4, 2, 32, 32) * 20], 1)
    autocast, scaler = amp_context(torch.device("cpu"))
    opt = torch.optim.SGD(fresh.parameters(), lr=0.0)
    alone = train_step(fresh, loss_fn, lab, opt, scaler, autocast)
    taught = train_step(fresh, loss_fn, lab, opt, scaler, autocast, teachers=Teachers([teacher], 2), teacher_weight=1.0)
    assert abs(alone - taught) > 1e-3


def test_init_from_another_network_is_one_line(tmp_path):
    make_photos(tmp_path / "photos", 12)
    fit(tiny_cfg(tmp_path, epochs=1, out=str(tmp_path / "mse")), progress=False)
    with pytest.raises(data.DataError, match="--init .*not the network asked for"):
        fit(tiny_cfg(tmp_path, loss="classify", epochs=1, init=str(tmp_path / "mse" / "best.safetensors")),
            progress=False)
    with pytest.raises(data.DataError, match="--teacher: distillation needs --loss classify"):
        fit(tiny_cfg(tmp_path, epochs=1, teachers=[str(tmp_path / "x.onnx")]), progress=False)
    # bad files are refused before any data is read or any file written
    for bad in ({"init": str(tmp_path / "none.safetensors")}, {"teachers": [str(tmp_path / "none.onnx")]},
                {"teachers": [str(tmp_path / "none.onnx")], "teacher_weight": 1.5}):
        with pytest.raises(data.DataError, match="--init: .*no such|--teacher: .*no such|--teacher-weight"):
            fit(tiny_cfg(tmp_path, loss="classify", epochs=1, out=str(tmp_path / "bad"), **bad), progress=False)
        assert not (tmp_path / "bad").exists()


def test_the_command_refuses_a_missing_teacher_in_one_line(tmp_path):
    from click.testing import CliRunner

    from train.cli import main

    make_photos(tmp_path / "photos", 4)
    result = CliRunner().invoke(main, ["--data", str(tmp_path / "photos"), "--teacher", str(tmp_path / "no.onnx")])
    assert result.exit_code == 2 and "does not exist" in result.output and "Traceback" not in result.output
