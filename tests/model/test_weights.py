"""Checkpoint loading: both expert layouts, meta-device materialization, and clear errors."""

import json
import shutil

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from model.config import JambaConfig
from model.layout import checkpoint_shapes
from model.tiny import build_tiny_checkpoint
from model.weights import (
    CheckpointError,
    init_random_weights,
    load_config,
    load_tokenizer,
    load_weights,
    resolve_checkpoint,
)

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return build_tiny_checkpoint(tmp_path_factory.mktemp("w") / "tiny", seed=0)


@pytest.fixture
def copy(ckpt, tmp_path):
    """A private copy of the checkpoint that a test may damage."""
    return shutil.copytree(ckpt, tmp_path / "ck")


def _hf_on_meta(folder):
    cfg = transformers.AutoConfig.from_pretrained(folder)
    with torch.device("meta"):
        return transformers.JambaForCausalLM(cfg)


def _module_from_names(shapes: dict[str, tuple[int, ...]]) -> nn.Module:
    """A plain module tree whose parameters carry exactly these names and shapes."""
    root = nn.Module()
    for name, shape in shapes.items():
        *path, leaf = name.split(".")
        mod = root
        for part in path:
            if not hasattr(mod, part):
                mod.add_module(part, nn.Module())
            mod = getattr(mod, part)
        mod.register_parameter(leaf, nn.Parameter(torch.zeros(shape)))
    return root


def _checkpoint_tensors(folder):
    from safetensors import safe_open

    out = {}
    for f in sorted(folder.glob("*.safetensors")):
        with safe_open(str(f), "pt") as s:
            out.update({k: s.get_tensor(k) for k in s.keys()})  # noqa: SIM118
    return out


def _write_checkpoint(folder, tensors, config_from):
    """A two-shard checkpoint of ``tensors`` beside a copy of another checkpoint's config and tokenizer."""
    shutil.copytree(config_from, folder, ignore=shutil.ignore_patterns("*.safetensors", "*.index.json"))
    names = list(tensors)
    half = len(names) // 2
    weight_map = {}
    for i, group in enumerate((names[:half], names[half:]), 1):
        fname = f"model-{i:05d}-of-00002.safetensors"
        save_file({k: tensors[k].contiguous() for k in group}, str(folder / fname))
        weight_map.update(dict.fromkeys(group, fname))
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    return folder


def test_per_expert_checkpoint_into_fused_model_matches_transformers(ckpt):
    reference = transformers.AutoModelForCausalLM.from_pretrained(ckpt)
    model = load_weights(_hf_on_meta(ckpt), ckpt, device="cpu", dtype=torch.float32)
    assert all(p.device.type == "cpu" for p in model.parameters())
    ours, theirs = model.state_dict(), reference.state_dict()
    assert ours.keys() == theirs.keys()
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)
    ids = torch.tensor([[1, 5, 17, 42, 99, 3, 7]])
    with torch.no_grad():  # HF's MoE sums experts in a data-dependent order: equal up to float rounding
        torch.testing.assert_close(model(ids).logits, reference(ids).logits, atol=1e-5, rtol=0)


def test_fused_checkpoint_into_per_expert_and_stacked_models(ckpt, tmp_path):
    per_expert = _checkpoint_tensors(ckpt)
    fused = transformers.AutoModelForCausalLM.from_pretrained(ckpt).state_dict()
    assert "model.layers.1.feed_forward.experts.gate_up_proj" in fused
    folder = _write_checkpoint(tmp_path / "fused", fused, ckpt)

    model = load_weights(_module_from_names(checkpoint_shapes(load_config(ckpt))), folder)
    loaded = dict(model.named_parameters())
    assert loaded.keys() == per_expert.keys()
    for name, t in per_expert.items():
        assert torch.equal(loaded[name], t), name

    cfg = load_config(ckpt)
    stacked = {k: v for k, v in checkpoint_shapes(cfg).items() if ".experts." not in k}
    e, i, h = cfg.num_experts, cfg.intermediate_size, cfg.hidden_size
    for layer in (1, 3, 5, 7):
        p = f"model.layers.{layer}.feed_forward.experts"
        stacked.update({f"{p}.gate_proj": (e, i, h), f"{p}.up_proj": (e, i, h), f"{p}.down_proj": (e, h, i)})
    for source in (folder, ckpt):  # fused -> stacked, and per-expert -> stacked
        model = load_weights(_module_from_names(stacked), source)
        up = dict(model.named_parameters())["model.layers.3.feed_forward.experts.up_proj"]
        assert torch.equal(up[2], per_expert["model.layers.3.feed_forward.experts.2.up_proj.weight"])


def test_casts_to_the_target_dtype_one_tensor_at_a_time(ckpt):
    model = load_weights(_hf_on_meta(ckpt), ckpt, dtype="bfloat16")
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
    ref = _checkpoint_tensors(ckpt)["model.layers.0.mamba.in_proj.weight"].to(torch.bfloat16)
    assert torch.equal(model.model.layers[0].mamba.in_proj.weight, ref)


def test_single_file_checkpoint(ckpt, tmp_path):
    folder = tmp_path / "single"
    shutil.copytree(ckpt, folder, ignore=shutil.ignore_patterns("*.safetensors", "*.index.json"))
    save_file(_checkpoint_tensors(ckpt), str(folder / "model.safetensors"))
    model = load_weights(_hf_on_meta(folder), folder)
    assert model.lm_head.weight.abs().sum() > 0


def test_config_errors(copy):
    cfg = json.loads((copy / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps({**cfg, "model_type": "llama"}))
    with pytest.raises(CheckpointError, match="not a Jamba config.*'llama'"):
        load_config(copy)
    (copy / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="unreadable config.json"):
        load_config(copy)
    (copy / "config.json").unlink()
    with pytest.raises(CheckpointError, match="no config.json"):
        load_config(copy)


def test_missing_and_corrupt_files_are_named(ckpt, copy):
    model = _hf_on_meta(ckpt)
    shard = copy / "model-00002-of-00002.safetensors"
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="model-00002-of-00002.safetensors: corrupt or unreadable"):
        load_weights(model, copy)
    shard.unlink()
    with pytest.raises(
        CheckpointError, match="model-00002-of-00002.safetensors: shard listed in .* is missing"
    ):
        load_weights(model, copy)
    for f in copy.glob("*.safetensors"):
        f.unlink()
    (copy / "model.safetensors.index.json").unlink()
    (copy / "pytorch_model.bin").write_bytes(b"")
    with pytest.raises(CheckpointError, match="only safetensors"):
        load_weights(model, copy)


def test_missing_unexpected_and_misshapen_tensors(ckpt, tmp_path):
    tensors = _checkpoint_tensors(ckpt)
    model = _hf_on_meta(ckpt)
    lacking = {k: v for k, v in tensors.items() if k != "model.layers.4.mamba.dt_proj.bias"}
    with pytest.raises(CheckpointError, match=r"lacks weights.*layers\.4\.mamba\.dt_proj\.bias"):
        load_weights(model, _write_checkpoint(tmp_path / "a", lacking, ckpt))
    extra = {**tensors, "model.layers.0.mamba.surprise": torch.zeros(3)}
    with pytest.raises(CheckpointError, match="unexpected tensor 'model.layers.0.mamba.surprise'"):
        load_weights(model, _write_checkpoint(tmp_path / "b", extra, ckpt))
    wrong = {**tensors, "model.final_layernorm.weight": torch.ones(65)}
    with pytest.raises(CheckpointError, match=r"'model.final_layernorm.weight' has shape \(65,\).*\(64,\)"):
        load_weights(model, _write_checkpoint(tmp_path / "c", wrong, ckpt))
    p = "model.layers.1.feed_forward.experts"
    stacked = torch.stack([tensors[f"{p}.{j}.down_proj.weight"] for j in range(4)])
    both = {**tensors, f"{p}.down_proj": stacked}
    with pytest.raises(CheckpointError, match=f"holds weights twice.*{p}.down_proj"):
        load_weights(model, _write_checkpoint(tmp_path / "d", both, ckpt))
    # every check ran on the shard headers: nothing was allocated for the model
    assert all(t.is_meta for t in model.parameters())


def test_index_listing_a_tensor_its_shard_lacks(copy):
    index = json.loads((copy / "model.safetensors.index.json").read_text())
    index["weight_map"]["model.layers.0.mamba.ghost"] = "model-00001-of-00002.safetensors"
    (copy / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(CheckpointError, match="'model.layers.0.mamba.ghost' listed in the index is missing"):
        load_weights(_hf_on_meta(copy), copy)


def test_resolve_checkpoint(ckpt, tmp_path, monkeypatch):
    assert resolve_checkpoint(str(ckpt)) == ckpt
    with pytest.raises(CheckpointError, match="checkpoint folder not found"):
        resolve_checkpoint(tmp_path / "nowhere")
    with pytest.raises(CheckpointError, match="is a file"):
        resolve_checkpoint(ckpt / "config.json")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # an empty cache
    with pytest.raises(CheckpointError, match="HF_HUB_OFFLINE=1.*pass the folder instead"):
        resolve_checkpoint("ai21labs/AI21-Jamba-Mini-1.7")


def test_load_tokenizer(ckpt, copy):
    tok = load_tokenizer(ckpt)
    assert tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False).startswith("<|bos|>")
    cfg = json.loads((copy / "tokenizer_config.json").read_text())
    del cfg["chat_template"]
    (copy / "tokenizer_config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="no chat template"):
        load_tokenizer(copy)
    for f in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        (copy / f).unlink()
    with pytest.raises(CheckpointError, match="no tokenizer files"):
        load_tokenizer(copy)


def test_init_random_weights_on_meta_model(ckpt):
    cfg = load_config(ckpt)
    a = init_random_weights(_hf_on_meta(ckpt), cfg, seed=3, device="cpu", dtype=torch.bfloat16)
    b = init_random_weights(_hf_on_meta(ckpt), cfg, seed=3, device="cpu", dtype=torch.bfloat16)
    pa, pb = dict(a.named_parameters()), dict(b.named_parameters())
    assert all(torch.equal(pa[k], pb[k]) for k in pa)
    assert {p.dtype for p in pa.values()} == {torch.bfloat16}
    mamba = a.model.layers[0].mamba
    assert torch.equal(mamba.A_log[7].float(), torch.log(torch.arange(1.0, 17.0)).bfloat16().float())
    assert torch.equal(mamba.D, torch.ones_like(mamba.D))
    dt = torch.nn.functional.softplus(mamba.dt_proj.bias.float())
    assert dt.min() > 0.9e-3 and dt.max() < 1.1e-1
    with torch.no_grad():
        logits = a(torch.tensor([[1, 2, 3]])).logits
    assert torch.isfinite(logits).all()


def test_jamba_config_of_tiny_matches_layout(ckpt):
    """The loader's expectations and the builder's output agree (a guard for both)."""
    assert set(_checkpoint_tensors(ckpt)) == set(checkpoint_shapes(JambaConfig.from_pretrained(ckpt)))


def test_both_layouts_fill_the_engines_model(ckpt, tmp_path):
    from model.jamba import JambaForCausalLM

    cfg = load_config(ckpt)
    reference = transformers.AutoModelForCausalLM.from_pretrained(ckpt).state_dict()
    fused = _write_checkpoint(tmp_path / "fused", reference, ckpt)
    for source in (ckpt, fused):
        with torch.device("meta"):
            model = JambaForCausalLM(cfg)
        sd = load_weights(model, source).state_dict()
        assert sd.keys() == reference.keys()
        assert all(torch.equal(sd[k], reference[k]) for k in sd), source.name


def test_tied_embeddings_stay_tied(tmp_path):
    from model.jamba import JambaForCausalLM

    folder = build_tiny_checkpoint(tmp_path / "tied", tie_word_embeddings=True, num_hidden_layers=4)
    cfg = load_config(folder)
    assert (
        "lm_head.weight"
        not in json.loads((folder / "model.safetensors.index.json").read_text())["weight_map"]
    )
    with torch.device("meta"):
        model = JambaForCausalLM(cfg)
    load_weights(model, folder, dtype="bfloat16")
    assert model.lm_head.weight is model.model.embed_tokens.weight
    assert model.lm_head.weight.dtype == torch.bfloat16 and not model.lm_head.weight.is_meta


def test_random_weights_are_the_same_in_our_model_and_transformers(ckpt):
    """Seeds per tensor name: the benchmark's two models get identical random weights."""
    from model.jamba import JambaForCausalLM

    cfg = load_config(ckpt)
    with torch.device("meta"):
        ours = JambaForCausalLM(cfg)
    ours = init_random_weights(ours, cfg, seed=11).state_dict()
    theirs = init_random_weights(_hf_on_meta(ckpt), cfg, seed=11).state_dict()
    assert ours.keys() == theirs.keys()
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)
