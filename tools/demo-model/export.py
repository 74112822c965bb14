#!/usr/bin/python3
"""Export a train.py run to the two GGUF files llama.cpp (and hark) load for Gemma 4: the text model
(`general.architecture = gemma4`, with our tokenizer) and the audio mmproj (`clip`, projector gemma4a).

  export.py --run RUN --out DIR [--type f16|q8_0] [--check-wav WAV]

Then reloads both files with gemma4_torch.py and checks they compute what the in-memory model computes
with the same (rounded) weights, and prints a transcription of --check-wav.
"""

import argparse
import json
import os
import sys

import numpy as np
import torch

import gguf_io as g
import gemma4_torch as g4
import train
from tokenizer import INSTRUCTION, Tokenizer


def weight_type(name, array, big):
    """F32 for vectors, 1-element clamps, convolution kernels and rope_freqs; `big` for matrices."""
    if array.ndim < 2 or name.startswith("a.conv1d.") or ".conv_dw." in name:
        return g.F32
    if big == g.Q8_0 and array.shape[-1] % 32:
        return g.F16
    return big


def text_gguf(text, tok, big, path):
    c = text.cfg
    w = g.Writer()
    a = "gemma4."
    w.add("general.architecture", "gemma4")
    w.add("general.type", "model")
    w.add("general.name", "hark-demo-gemma4-speech")
    w.add("general.description", "tiny Gemma 4 speech model trained on synthetic English (tools/demo-model)")
    w.add(a + "block_count", c.n_layer, g.T_U32)
    w.add(a + "context_length", c.context_length, g.T_U32)
    w.add(a + "embedding_length", c.n_embd, g.T_U32)
    w.add(a + "feed_forward_length", np.array(c.n_ff, dtype=np.int32))
    w.add(a + "attention.head_count", c.n_head, g.T_U32)
    w.add(a + "attention.head_count_kv", c.n_head_kv, g.T_U32)
    w.add(a + "rope.freq_base", float(c.rope_base), g.T_F32)
    w.add(a + "rope.freq_base_swa", float(c.rope_base_swa), g.T_F32)
    w.add(a + "attention.layer_norm_rms_epsilon", float(c.eps), g.T_F32)
    w.add(a + "attention.key_length", c.head_dim, g.T_U32)
    w.add(a + "attention.value_length", c.head_dim, g.T_U32)
    w.add(a + "final_logit_softcapping", float(c.softcap), g.T_F32)
    w.add(a + "attention.sliding_window", c.sliding_window, g.T_U32)
    w.add(a + "attention.shared_kv_layers", c.n_shared_kv, g.T_U32)
    w.add(a + "embedding_length_per_layer_input", c.n_embd_per_layer, g.T_U32)
    w.add(a + "attention.sliding_window_pattern", np.array(c.swa_pattern, dtype=np.bool_))
    w.add(a + "attention.key_length_swa", c.head_dim_swa, g.T_U32)
    w.add(a + "attention.value_length_swa", c.head_dim_swa, g.T_U32)
    w.add(a + "rope.dimension_count", c.n_rot or c.head_dim, g.T_U32)
    w.add(a + "rope.dimension_count_swa", c.n_rot_swa or c.head_dim_swa, g.T_U32)
    for key, value, vtype in tok.gguf_metadata():
        w.add(key, value, vtype)
    w.add("general.quantization_version", 2, g.T_U32)
    w.add("general.file_type", 7 if big == g.Q8_0 else 1, g.T_U32)
    for name, arr in text.gguf_tensors():
        w.add_tensor(name, arr, weight_type(name, arr, big))
    w.write(path)


def mmproj_gguf(audio, big, path):
    c = audio.cfg
    w = g.Writer()
    p = "clip.audio."
    w.add("general.architecture", "clip")
    w.add("general.type", "mmproj")
    w.add("general.name", "hark-demo-gemma4-speech-audio")
    w.add("general.description", "gemma4a audio encoder of the hark demo model (tools/demo-model)")
    w.add("general.file_type", 7 if big == g.Q8_0 else 1, g.T_U32)
    w.add("clip.has_vision_encoder", False, g.T_BOOL)
    w.add("clip.has_audio_encoder", True, g.T_BOOL)
    w.add(p + "projector_type", "gemma4a")
    w.add(p + "num_mel_bins", c.n_mel, g.T_U32)
    w.add(p + "embedding_length", c.n_embd, g.T_U32)
    w.add(p + "feed_forward_length", c.n_ff, g.T_U32)
    w.add(p + "block_count", c.n_layer, g.T_U32)
    w.add(p + "attention.head_count", c.n_head, g.T_U32)
    w.add(p + "attention.layer_norm_epsilon", float(c.eps), g.T_F32)
    w.add(p + "projection_dim", c.n_embd_text, g.T_U32)
    for name, arr in audio.gguf_tensors():
        w.add_tensor(name, arr, weight_type(name, arr, big))
    w.write(path)


def load_run(run):
    tok = Tokenizer.load(os.path.join(run, "tokenizer.json"))
    text, audio = train.init_models(len(tok.tokens), 0)
    st = torch.load(os.path.join(run, "checkpoint.pt"))
    text.load_state_dict(st["text"])
    audio.load_state_dict(st["audio"])
    return tok, text.eval(), audio.eval(), st["step"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--type", choices=["f16", "q8_0"], default="f16")
    ap.add_argument("--check-wav", help="a 16 kHz mono wav to transcribe with the exported files")
    args = ap.parse_args()
    train.use_openblas()
    torch.set_num_threads(1)
    big = g.Q8_0 if args.type == "q8_0" else g.F16
    tok, text, audio, step = load_run(args.run)
    os.makedirs(args.out, exist_ok=True)
    tpath, apath = os.path.join(args.out, "model.gguf"), os.path.join(args.out, "mmproj.gguf")
    text_gguf(text, tok, big, tpath)
    mmproj_gguf(audio, big, apath)
    size = (os.path.getsize(tpath) + os.path.getsize(apath)) / 1e6
    print(f"step {step}: wrote {tpath} + {apath}: {size:.1f} MB")

    # round trip: the files must compute what the trained model computes with the same rounded weights
    text2, audio2 = g4.TextModel.from_gguf(tpath), g4.AudioEncoder.from_gguf(apath)
    ok = True
    for mod, mod2 in ((text, text2), (audio, audio2)):
        for name, arr in mod.gguf_tensors():
            t = mod2.reader.tensors[name]["type"]
            want = g.dequantize(t, g.encode(t, arr)).reshape(arr.shape) if t != g.F32 else arr
            if not np.array_equal(want, mod2.w(name).detach().numpy()):
                print(f"tensor {name}: stored values differ from the model's rounded ones")
                ok = False
        mod.load_state_dict(mod2.state_dict())  # the in-memory model now holds the rounded weights
    tok2_tokens = text2.reader.meta["tokenizer.ggml.tokens"]
    ok &= tok2_tokens == tok.tokens and text2.reader.meta["tokenizer.ggml.merges"] == tok.merges
    if args.check_wav:
        pcm = train.read_wav(args.check_wav)
        mel = torch.from_numpy(g4.log_mel(pcm)[0])[None]
        head, tail = tok.prompt()
        with torch.no_grad():
            e1, e2 = audio(mel)[0], audio2(mel)[0]
            seq = torch.tensor([head + [-1] * e1.shape[0] + tail])
            l1, l2 = text(seq, e1)[0, -1], text2(seq, e2)[0, -1]
        same = torch.equal(e1, e2) and torch.equal(l1, l2)
        print(f"round trip audio.embd/logits identical: {same}")
        ok &= same
        print(f"prompt: {INSTRUCTION!r}\ntranscription: {train.transcribe(text2, audio2, tok, pcm)!r}")
    with open(os.path.join(args.out, "export.json"), "w") as f:
        json.dump({"step": step, "type": args.type, "mbytes": round(size, 2)}, f)
    print("round trip ok" if ok else "round trip FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
