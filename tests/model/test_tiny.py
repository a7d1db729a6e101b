"""The tiny checkpoint builder: a real Hugging Face Jamba folder that transformers loads offline."""

import json

import pytest
import torch
from safetensors import safe_open

from model.config import JambaConfig
from model.layout import checkpoint_shapes
from model.tiny import build_tiny_checkpoint, main

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return build_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "tiny-jamba", corpus=None, seed=0)


def _read_all(folder):
    out = {}
    for f in sorted(folder.glob("*.safetensors")):
        with safe_open(str(f), "pt") as s:
            out.update({k: s.get_tensor(k) for k in s.keys()})  # noqa: SIM118 (safe_open is not a dict)
    return out


def test_loads_with_transformers_and_generates(ckpt):
    tok = transformers.AutoTokenizer.from_pretrained(ckpt)
    model, info = transformers.AutoModelForCausalLM.from_pretrained(ckpt, output_loading_info=True)
    assert type(model).__name__ == "JambaForCausalLM"
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"]
    ids = tok("Metformin 500 mg twice daily", return_tensors="pt")["input_ids"]
    out = model.generate(ids, max_new_tokens=4, do_sample=False, pad_token_id=tok.pad_token_id)
    assert out.shape == (1, ids.shape[1] + 4)
    assert int(out.max()) < model.config.vocab_size
    assert model.config.docqa_random_weights is True


def test_weights_transformers_sees_are_the_ones_written(ckpt):
    model = transformers.AutoModelForCausalLM.from_pretrained(ckpt)
    written = _read_all(ckpt)
    sd = model.state_dict()
    q = "model.layers.2.self_attn.q_proj.weight"
    assert torch.equal(sd[q], written[q])
    # transformers fuses experts into (E, 2I, H) with gate rows first
    fused = sd["model.layers.1.feed_forward.experts.gate_up_proj"]
    assert torch.equal(fused[3, :128], written["model.layers.1.feed_forward.experts.3.gate_proj.weight"])
    assert torch.equal(fused[3, 128:], written["model.layers.1.feed_forward.experts.3.up_proj.weight"])


def test_config_exercises_the_real_layer_pattern(ckpt):
    cfg = JambaConfig.from_pretrained(ckpt)
    types = cfg.layer_types()
    assert cfg.attention_layers == (2, 6) and types.count("mamba") == 6
    moe = [cfg.is_moe_layer(i) for i in range(cfg.num_hidden_layers)]
    assert any(moe) and not all(moe)
    assert cfg.num_experts == 4 and cfg.num_experts_per_tok == 2
    assert cfg.docqa_random_weights and cfg.max_position_embeddings == 262144
    tok = transformers.AutoTokenizer.from_pretrained(ckpt)
    assert cfg.vocab_size == len(tok)
    assert (tok.pad_token_id, tok.bos_token_id, tok.eos_token_id) == (0, 1, 2)


def test_sharded_with_an_index_covering_every_tensor(ckpt):
    index = json.loads((ckpt / "model.safetensors.index.json").read_text())
    files = sorted(set(index["weight_map"].values()))
    assert len(files) >= 2
    cfg = JambaConfig.from_pretrained(ckpt)
    written = _read_all(ckpt)
    assert set(index["weight_map"]) == set(written) == set(checkpoint_shapes(cfg))
    assert index["metadata"]["total_size"] == sum(t.numel() * t.element_size() for t in written.values())


def test_mamba_init_is_realistic(ckpt):
    w = _read_all(ckpt)
    a_log = w["model.layers.0.mamba.A_log"]
    assert torch.allclose(a_log[5], torch.log(torch.arange(1.0, 17.0)))
    assert torch.equal(w["model.layers.0.mamba.D"], torch.ones(128))
    dt = torch.nn.functional.softplus(w["model.layers.0.mamba.dt_proj.bias"])
    assert dt.min() >= 1e-3 * 0.999 and dt.max() <= 1e-1 * 1.001
    assert abs(float(w["model.embed_tokens.weight"].std()) - 0.02) < 0.002


def test_same_seed_gives_byte_identical_files(ckpt, tmp_path):
    again = build_tiny_checkpoint(tmp_path / "again", corpus=None, seed=0)
    names = sorted(p.name for p in ckpt.iterdir())
    assert names == sorted(p.name for p in again.iterdir())
    for name in names:
        assert (ckpt / name).read_bytes() == (again / name).read_bytes(), name
    other = build_tiny_checkpoint(tmp_path / "other", corpus=None, seed=1)
    assert (other / "tokenizer.json").read_bytes() == (ckpt / "tokenizer.json").read_bytes()
    shard = "model-00001-of-00002.safetensors"
    assert (other / shard).read_bytes() != (ckpt / shard).read_bytes()


def test_chat_template_renders_turns_and_generation_prompt(ckpt):
    tok = transformers.AutoTokenizer.from_pretrained(ckpt)
    msgs = [{"role": "system", "content": "Cite documents."}, {"role": "user", "content": "Dose?"}]
    text = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    assert text == "<|bos|><|system|>\nCite documents.<|eos|>\n<|user|>\nDose?<|eos|>\n<|assistant|>\n"
    no_prompt = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=False)
    assert not no_prompt.endswith("<|assistant|>\n")
    enc = tok.apply_chat_template(msgs, tokenize=True, add_generation_prompt=True, return_dict=True)
    ids = enc["input_ids"]
    assert ids[0] == tok.bos_token_id and tok.convert_ids_to_tokens(ids[-2]) == "<|assistant|>"
    assert tok.decode(ids, skip_special_tokens=True) == "\nCite documents.\n\nDose?\n\n"
    with pytest.raises(Exception, match="unsupported chat role"):
        tok.apply_chat_template([{"role": "tool", "content": "x"}], tokenize=False)


def test_tokenizer_trains_on_the_corpus(tmp_path):
    corpus = tmp_path / "corpus"
    (corpus / "patients").mkdir(parents=True)
    (corpus / "patients" / "P0001.md").write_text("hydrochlorothiazide hydrochlorothiazide " * 50)
    (corpus / "notes.txt").write_text("echocardiogram echocardiogram " * 50)
    (corpus / "ignored.json").write_text('{"zzzqqq": 1}' * 50)
    out = build_tiny_checkpoint(tmp_path / "ck", corpus=corpus, seed=0, hidden_size=32, num_hidden_layers=4)
    tok = transformers.AutoTokenizer.from_pretrained(out)
    assert len(tok(" hydrochlorothiazide")["input_ids"]) == 1
    assert len(tok(" echocardiogram")["input_ids"]) == 1
    assert tok.decode(tok("naïve ✓ text")["input_ids"]) == "naïve ✓ text"  # byte-level: nothing unknown
    assert JambaConfig.from_pretrained(out).hidden_size == 32


def test_refuses_to_replace_a_folder_it_did_not_build(tmp_path):
    real = tmp_path / "real-model"
    real.mkdir()
    (real / "config.json").write_text(json.dumps({"model_type": "jamba"}))
    with pytest.raises(FileExistsError, match="not a tiny checkpoint"):
        build_tiny_checkpoint(real)
    assert (real / "config.json").exists()
    with pytest.raises(FileNotFoundError, match="corpus folder not found"):
        build_tiny_checkpoint(tmp_path / "x", corpus=tmp_path / "missing")


def test_cli_rebuilds_in_place(tmp_path, capsys):
    out = tmp_path / "tiny"
    main(["--out", str(out), "--seed", "5", "--hidden-size", "32"])
    main(["--out", str(out), "--seed", "5", "--hidden-size", "32"])  # its own folder: replaced, not refused
    assert JambaConfig.from_pretrained(out).hidden_size == 32
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folders left behind
