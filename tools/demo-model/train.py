#!/usr/bin/python3
"""Train the demo speech model: a small Gemma 4 (gemma4 text decoder + gemma4a conformer encoder, every
feature kept) on synthetic speech, with exactly the transcription prompts hark sends (tokenizer.py).

  train.py --data DATA --out RUN [--steps N] [--minutes M]

Writes RUN/tokenizer.json, RUN/config.json and RUN/checkpoint.pt (every --save-every steps and at the
end; a run resumes from it). Deterministic for a given --seed, thread count and --procs.
"""

import argparse
import ctypes
import json
import math
import os
import signal
import sys
import time
import wave

import numpy as np
import torch
import torch.nn.functional as F

import gemma4_torch as g4
from tokenizer import END_OF_ANSWER, Tokenizer

TEXT_DIMS = dict(n_embd=256, n_layer=6, n_head=4, n_head_kv=1, head_dim=128, head_dim_swa=64,
                 n_ff=[512, 512, 768, 512, 512, 768], swa_pattern=[True, True, False, True, True, False],
                 n_shared_kv=2, n_embd_per_layer=32, sliding_window=128, rope_base=1e6, rope_base_swa=1e4,
                 n_rot=128, n_rot_swa=64, softcap=30.0, eps=1e-6, context_length=4096)
AUDIO_DIMS = dict(n_mel=128, n_embd=128, n_ff=512, n_layer=4, n_head=4, eps=1e-6)
SSCP_CHANNELS = (32, 16)
AUDIO_OUT_DIM = 256  # a.pre_encode.out width (E2B: 1536)
ROPE_ROTATED = 0.25  # proportional RoPE: fraction of full-attention pairs that rotate
CLAMP = 1e4  # ClippableLinear bounds (wide: the trained weights never need them)
# Encoder pre-training (--ctc-steps): a character CTC head on the audio embeddings, training only (not
# exported). Without it the decoder learned the sentence prior first and the audio path collapsed (README).
CTC_CHARS = " abcdefghijklmnopqrstuvwxyz0123456789'"  # id 0 is the CTC blank
CTC_WEIGHT = 0.5  # weight of the CTC loss kept on during joint training
RESIDUAL_INIT = 0.1  # conformer residual branches start this small, so each block begins near identity
# --regularise (the sixth attempt, README; worse at this budget, so off by default): SpecAugment-style masks
# on the training mels (short time masks, so a masked span never hides a whole word) and noise on the answer
# tokens the decoder reads (targets unchanged), so the next word has to come from the audio.
FREQ_MASKS, FREQ_MASK_MAX = 2, 15  # mel bins of 128
TIME_MASKS, TIME_MASK_MAX = 2, 8  # 10 ms frames
TOKEN_NOISE = 0.1  # fraction of answer input tokens replaced by a random vocabulary token


OPENBLAS_DIR = "/usr/lib/x86_64-linux-gnu/openblas-pthread"


def use_openblas():
    """Debian's torch calls the system BLAS; the reference one ran a 512^3 matmul 18x slower than
    OpenBLAS (package libopenblas0-pthread). Re-exec with OpenBLAS first on the library path, for this
    process only, so the machine-wide BLAS choice is left alone."""
    if os.path.isdir(OPENBLAS_DIR) and os.environ.get("LD_LIBRARY_PATH", "").split(":")[0] != OPENBLAS_DIR:
        env = dict(os.environ, LD_LIBRARY_PATH=OPENBLAS_DIR + ":" + os.environ.get("LD_LIBRARY_PATH", ""),
                   OPENBLAS_NUM_THREADS="1")
        os.execve(sys.executable, [sys.executable] + sys.argv, env)


def read_pcm16(path):
    with wave.open(path, "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


def read_wav(path):
    return read_pcm16(path).astype(np.float32) / 32768.0


def init_models(n_vocab, seed, near_identity=False):
    torch.manual_seed(seed)
    tc = g4.TextConfig(n_vocab=n_vocab, **TEXT_DIMS)
    text = g4.TextModel(tc)
    E, P, L = tc.n_embd, tc.n_embd_per_layer, tc.n_layer
    lin = lambda n_out, n_in: torch.randn(n_out, n_in) * (1.0 / math.sqrt(n_in))
    text.set_param("token_embd.weight", torch.randn(n_vocab, E) * 0.05)
    text.set_param("per_layer_token_embd.weight", torch.randn(n_vocab, L * P) * 0.05)
    text.set_param("per_layer_model_proj.weight", lin(L * P, E))
    text.set_param("per_layer_proj_norm.weight", torch.ones(P))
    text.set_param("output_norm.weight", torch.ones(E))
    half = tc.head_dim // 2
    n_rot_pairs = int(half * ROPE_ROTATED)
    text.set_param("rope_freqs.weight", torch.cat([torch.ones(n_rot_pairs), torch.full((half - n_rot_pairs,), 1e30)]),
                   trainable=False)
    for il in range(L):
        p, hd, ff = f"blk.{il}.", tc.layer_head_dim(il), tc.n_ff[il]
        for n, shape in [("attn_q", (tc.n_head * hd, E)), ("attn_k", (tc.n_head_kv * hd, E)),
                         ("attn_v", (tc.n_head_kv * hd, E)), ("attn_output", (E, tc.n_head * hd)),
                         ("ffn_gate", (ff, E)), ("ffn_up", (ff, E)), ("ffn_down", (E, ff)),
                         ("inp_gate", (P, E)), ("proj", (E, P))]:
            # KV-shared layers carry attn_k/attn_v like real E2B files, unused
            text.set_param(p + n + ".weight", lin(*shape), trainable=not (n in ("attn_k", "attn_v")
                                                                          and tc.kv_source(il) != il))
        for n, size in [("attn_norm", E), ("attn_q_norm", hd), ("attn_k_norm", hd), ("post_attention_norm", E),
                        ("ffn_norm", E), ("post_ffw_norm", E), ("post_norm", E)]:
            text.set_param(p + n + ".weight", torch.ones(size), trainable=not (n == "attn_k_norm"
                                                                               and tc.kv_source(il) != il))
        text.set_param(p + "layer_output_scale.weight", torch.ones(1))

    ac = g4.AudioConfig(n_embd_text=E, **AUDIO_DIMS)
    audio = g4.AudioEncoder(ac)
    A, (c0, c1) = ac.n_embd, SSCP_CHANNELS
    audio.set_param("a.conv1d.0.weight", torch.randn(c0, 1, 3, 3) / 3.0)
    audio.set_param("a.conv1d.0.norm.weight", torch.ones(c0))
    audio.set_param("a.conv1d.1.weight", torch.randn(c1, c0, 3, 3) / math.sqrt(9 * c0))
    audio.set_param("a.conv1d.1.norm.weight", torch.ones(c1))
    n_freq = g4.n_audio_tokens(ac.n_mel)
    audio.set_param("a.input_projection.weight", lin(A, n_freq * c1))

    def clippable(name, n_out, n_in):
        audio.set_param(name + ".weight", lin(n_out, n_in))
        for sfx, v in zip(g4.CLAMP_SUFFIXES, (-CLAMP, CLAMP, -CLAMP, CLAMP)):
            audio.set_param(f"{name}.{sfx}", torch.tensor([v]), trainable=False)

    D = A // ac.n_head
    for il in range(ac.n_layer):
        p = f"a.blk.{il}."
        for sfx in ("", "_1"):
            clippable(p + "ffn_up" + sfx, ac.n_ff, A)
            clippable(p + "ffn_down" + sfx, A, ac.n_ff)
            audio.set_param(p + "ffn_norm" + sfx + ".weight", torch.ones(A))
            audio.set_param(p + "ffn_post_norm" + sfx + ".weight", torch.ones(A))
        for n in ("attn_q", "attn_k", "attn_v", "attn_out"):
            clippable(p + n, A, A)
        audio.set_param(p + "attn_k_rel.weight", lin(A, A))
        audio.set_param(p + "per_dim_scale.weight", torch.ones(D))
        clippable(p + "conv_pw1", 2 * A, A)
        clippable(p + "conv_pw2", A, A)
        audio.set_param(p + "conv_dw.weight", torch.randn(A, ac.conv_kernel) / math.sqrt(ac.conv_kernel))
        for n in ("attn_pre_norm", "conv_norm", "norm_conv", "ln2"):
            audio.set_param(p + n + ".weight", torch.ones(A))
        if near_identity:
            for n in ("ffn_post_norm", "ffn_post_norm_1", "attn_post_norm"):
                audio.set_param(p + n + ".weight", torch.full((A,), RESIDUAL_INIT))
            audio.set_param(p + "conv_pw2.weight", audio.w(p + "conv_pw2.weight").detach() * RESIDUAL_INIT)
        else:
            audio.set_param(p + "attn_post_norm.weight", torch.ones(A))
    audio.set_param("a.pre_encode.out.weight", lin(AUDIO_OUT_DIM, A))
    audio.set_param("a.pre_encode.out.bias", torch.zeros(AUDIO_OUT_DIM))
    audio.set_param("mm.a.input_projection.weight", lin(E, AUDIO_OUT_DIM))
    return text, audio


def augment(pcm, r):
    """Level and noise augmentation (speed is done by sox in synth_data.py)."""
    pcm = pcm * 10 ** (r.uniform(-18, 6) / 20)
    if r.random() < 0.7:
        rms = max(float(np.sqrt(np.mean(pcm ** 2))), 1e-4)
        noise = r.standard_normal(len(pcm)).astype(np.float32)
        if r.random() < 0.5:  # pink-ish: integrate white noise a little
            noise = np.convolve(noise, np.ones(8) / 8, mode="same")
            noise /= max(float(np.sqrt(np.mean(noise ** 2))), 1e-6)
        pcm = pcm + noise * rms * 10 ** (-r.uniform(5, 35) / 20)
    return np.clip(pcm, -1.0, 1.0).astype(np.float32)


def spec_augment(mel, r):
    """Frequency and time masks on one log-mel [n_mel, T], filled with its mean."""
    mel = mel.copy()
    fill = float(mel.mean())
    for n_masks, width_max, axis in ((FREQ_MASKS, FREQ_MASK_MAX, 0), (TIME_MASKS, TIME_MASK_MAX, 1)):
        for _ in range(n_masks):
            width = int(r.integers(0, width_max + 1))
            start = int(r.integers(0, max(1, mel.shape[axis] - width)))
            if axis == 0:
                mel[start:start + width] = fill
            else:
                mel[:, start:start + width] = fill
    return mel


def noisy_answer(ans, r, n_vocab, first_plain):
    """The answer tokens the decoder reads, with TOKEN_NOISE of them swapped for random text tokens
    (ids from first_plain on: characters and merges, no special, control or byte tokens)."""
    return [int(r.integers(first_plain, n_vocab)) if r.random() < TOKEN_NOISE else t for t in ans]


def prompt_variant(tok, r, contexts):
    """hark's prompt as a request or a long-audio window may shape it: mostly the default (no language),
    some with `language` English, some with earlier text as context (another training sentence)."""
    u = r.random()
    if u < 0.7:
        return tok.prompt()
    if u < 0.85:
        return tok.prompt(language="English")
    return tok.prompt(context=" ".join(contexts[i] for i in r.choice(len(contexts), size=r.integers(1, 4))))


def pick_batch(r, by_length, batch, group):
    """Row indices of one batch. With group > 0 the batch comes from `group` clips of neighbouring length
    (by_length: row indices sorted by file size), so padding to the longest clip wastes little compute."""
    if group <= 0:
        return r.choice(len(by_length), size=batch, replace=False)
    start = r.integers(0, len(by_length) - group + 1)
    return by_length[start + r.choice(group, size=batch, replace=False)]


def make_batch(items, tok, r=None, contexts=None, regularise=False):
    """items: [(pcm, text)] -> (mel [B, 128, T], tokens [B, S], targets [B, S], valid [B, S]).
    With r (training): augmentation and prompt variants drawn from it; contexts: texts to quote as context;
    regularise: also SpecAugment masks and answer-token noise."""
    end = tok.id[END_OF_ANSWER]
    mels = [g4.log_mel(augment(p, r) if r is not None else p)[0] for p, _ in items]
    if r is not None and regularise:
        mels = [spec_augment(m, r) for m in mels]
    T = max(m.shape[1] for m in mels)
    mel = torch.zeros(len(items), mels[0].shape[0], T)
    seqs, tgts = [], []
    for b, (m, (_, text)) in enumerate(zip(mels, items)):
        mel[b, :, :m.shape[1]] = torch.from_numpy(m)
        ans = tok.encode_text(text) + [end]
        head, tail = prompt_variant(tok, r, contexts) if r is not None else tok.prompt()
        seq = head + [-1] * g4.n_audio_tokens(m.shape[1]) + tail + ans
        if r is not None and regularise:
            seq = seq[:len(seq) - len(ans)] + noisy_answer(ans, r, len(tok.tokens), tok.id["<0xFF>"] + 1)
        seqs.append(seq[:-1])
        tgts.append([-100] * (len(seq) - 1 - len(ans)) + ans)
    S = max(len(s) for s in seqs)
    tokens = torch.zeros(len(items), S, dtype=torch.long)
    targets = torch.full((len(items), S), -100, dtype=torch.long)
    valid = torch.zeros(len(items), S, dtype=torch.bool)
    for b, (s, t) in enumerate(zip(seqs, tgts)):
        tokens[b, :len(s)] = torch.tensor(s)
        targets[b, :len(t)] = torch.tensor(t)
        valid[b, :len(s)] = True
    return mel, tokens, targets, valid


def answer_index(targets):
    """targets [B, S] -> (idx [B, A], targets [B, A]): the positions that carry a target, per item, padded
    with position 0 and target -100, so the forward pass computes logits only where the loss reads them."""
    pos = [torch.nonzero(t != -100)[:, 0] for t in targets]
    A = max(len(p) for p in pos)
    idx = torch.zeros(len(pos), A, dtype=torch.long)
    tgt = torch.full((len(pos), A), -100, dtype=torch.long)
    for b, p in enumerate(pos):
        idx[b, :len(p)] = p
        tgt[b, :len(p)] = targets[b, p]
    return idx, tgt


def answer_loss(text, audio, mel, tokens, targets, valid):
    """(mean cross-entropy over the answer tokens, audio embeddings [B, T', E])."""
    emb = audio(mel)  # [B, T', E]; rows past each item's own length are dropped below
    n_a = (tokens < 0).sum(1)
    rows = torch.cat([emb[b, :int(n_a[b])] for b in range(len(n_a))])
    idx, tgt = answer_index(targets)
    logits = text(tokens, rows, valid=valid, out_idx=idx)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1), ignore_index=-100), emb


def ctc_targets(text):
    return [CTC_CHARS.index(c) + 1 for c in text.lower() if c in CTC_CHARS]


def ctc_loss(head, emb, n_a, texts):
    """Character CTC over each item's own audio rows (blank = 0)."""
    logp = F.log_softmax(head(emb), dim=-1).transpose(0, 1)  # [T', B, V]
    targets = [ctc_targets(t) for t in texts]
    return F.ctc_loss(logp, torch.tensor([c for t in targets for c in t]), n_a,
                      torch.tensor([len(t) for t in targets]), blank=0, zero_infinity=True)


@torch.no_grad()
def ctc_greedy(head, audio, pcm):
    ids = head(audio(torch.from_numpy(g4.log_mel(pcm)[0])[None]))[0].argmax(-1).tolist()
    return "".join(CTC_CHARS[i - 1] for j, i in enumerate(ids) if i != 0 and (j == 0 or ids[j - 1] != i))


@torch.no_grad()
def transcribe(text, audio, tok, pcm, max_new=48):
    """Greedy decode (full recompute per step: the model is tiny)."""
    head, tail = tok.prompt()
    mel = torch.from_numpy(g4.log_mel(pcm)[0])[None]
    emb = audio(mel)[0]
    seq = head + [-1] * emb.shape[0] + tail
    out, end = [], tok.id[END_OF_ANSWER]
    for _ in range(max_new):
        nxt = int(text(torch.tensor([seq + out]), emb)[0, -1].argmax())
        if nxt in (end, tok.id["<eos>"]):
            break
        out.append(nxt)
    return tok.decode(out)


@torch.no_grad()
def report_listening(text, audio, tok, items):
    """The check that caught the collapsed run: held-out teacher-forced loss with each clip's own audio
    and with silence in its place. A model that listens must do much better with the audio."""
    losses = []
    for pcms in ([p for p, _ in items], [np.zeros_like(p) for p, _ in items]):
        mel, tokens, targets, valid = make_batch([(p, t) for p, (_, t) in zip(pcms, items)], tok)
        losses.append(float(answer_loss(text, audio, mel, tokens, targets, valid)[0]))
    print(f"held-out loss: {losses[0]:.4f} with the audio, {losses[1]:.4f} with silence", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="synth_data.py output folder")
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=2000, help="joint training steps")
    ap.add_argument("--ctc-steps", type=int, default=0,
                    help="encoder-only character-CTC steps before joint training (0 = none)")
    ap.add_argument("--minutes", type=float, default=115.0, help="stop (and save) after this wall time")
    ap.add_argument("--batch", type=int, default=8, help="utterances per step, over all processes")
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--seed", type=int, default=7)
    # 1 thread per process: torch's intra-op threads do not speed these small ops up (measured: 2 threads
    # 1.153 s per joint step against 1.159 s with 1), and on a loaded machine OpenMP spin-waits cost up to 7x
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--procs", type=int, default=1,
                    help="data-parallel processes (one per core): each takes batch/procs utterances")
    ap.add_argument("--save-every", type=int, default=250)
    ap.add_argument("--n-merges", type=int, default=2000)
    ap.add_argument("--length-group", type=int, default=0,
                    help="draw each batch from this many clips of neighbouring length (0 = from all clips)")
    ap.add_argument("--regularise", action="store_true",
                    help="SpecAugment masks and answer-token noise (the sixth attempt; worse at this budget)")
    args = ap.parse_args()
    if args.batch % args.procs:
        ap.error("--batch must be a multiple of --procs")
    use_openblas()
    os.makedirs(args.out, exist_ok=True)
    rows = [line.rstrip("\n").split("\t") for line in open(os.path.join(args.data, "train.tsv"))]
    tok_path = os.path.join(args.out, "tokenizer.json")
    tok = Tokenizer.load(tok_path) if os.path.exists(tok_path) else Tokenizer.train([t for _, t in rows],
                                                                                    args.n_merges)
    tok.save(tok_path)
    if args.procs == 1:
        train(0, args, rows, tok)
    else:
        import torch.multiprocessing as mp
        rendezvous = rendezvous_path(args)  # gloo's file store: must not exist beforehand
        if os.path.exists(rendezvous):
            os.remove(rendezvous)
        mp.spawn(train, args=(args, rows, tok), nprocs=args.procs)  # gloo deletes the file when all are done


def rendezvous_path(args):
    return os.path.join(args.out, ".rendezvous")


def average_gradients(params, procs, loss, stop):
    """All-reduce every gradient (one flat buffer) to the mean over the processes, so each applies the
    same update and the replicas stay identical. The loss (for the log) and `stop` (rank 0's time-budget
    flag) ride along. Returns (mean loss, stop)."""
    if procs == 1:
        return float(loss), stop
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads] + [torch.tensor([float(loss), float(stop)])])
    torch.distributed.all_reduce(flat)
    flat /= procs
    at = 0
    for p, g in zip(params, grads):
        p.grad = flat[at:at + g.numel()].view_as(g)
        at += g.numel()
    return float(flat[-2]), bool(flat[-1] > 0)


def train(rank, args, rows, tok):
    torch.set_num_threads(args.threads)
    if args.procs > 1:
        # a spawned process outlives a killed train.py unless told otherwise: PR_SET_PDEATHSIG
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)
        torch.distributed.init_process_group("gloo", init_method="file://" + rendezvous_path(args), rank=rank,
                                             world_size=args.procs)
    lead = rank == 0
    t0 = time.time()
    texts = [t for _, t in rows]
    text, audio = init_models(len(tok.tokens), args.seed, near_identity=args.ctc_steps > 0)
    if lead:
        with open(os.path.join(args.out, "config.json"), "w") as f:
            json.dump({"text": TEXT_DIMS, "audio": AUDIO_DIMS, "n_vocab": len(tok.tokens)}, f)
    torch.manual_seed(args.seed + 1)
    ctc_head = torch.nn.Linear(TEXT_DIMS["n_embd"], len(CTC_CHARS) + 1)
    enc_params = [p for m in (audio, ctc_head) for p in m.parameters() if p.requires_grad]
    params = [p for p in text.parameters() if p.requires_grad] + enc_params
    enc_opt = torch.optim.AdamW(enc_params, lr=1e-3, betas=(0.9, 0.98), weight_decay=0.01)
    opt = torch.optim.AdamW(params, lr=args.lr, betas=(0.9, 0.98), weight_decay=0.01)
    ckpt = os.path.join(args.out, "checkpoint.pt")
    step = 0
    if os.path.exists(ckpt):
        st = torch.load(ckpt)
        text.load_state_dict(st["text"])
        audio.load_state_dict(st["audio"])
        ctc_head.load_state_dict(st["ctc_head"])
        enc_opt.load_state_dict(st["enc_opt"])
        opt.load_state_dict(st["opt"])
        step = st["step"]
        if lead:
            print(f"resumed at step {step}")
    n_params = sum(p.numel() for m in (text, audio) for p in m.parameters())
    if lead:
        print(f"vocab {len(tok.tokens)}, params {n_params / 1e6:.2f} M, {len(rows)} train utterances, "
              f"{args.procs} process(es)", flush=True)

    def save():
        if lead:
            torch.save({"text": text.state_dict(), "audio": audio.state_dict(), "ctc_head": ctc_head.state_dict(),
                        "enc_opt": enc_opt.state_dict(), "opt": opt.state_dict(), "step": step}, ckpt + ".tmp")
            os.replace(ckpt + ".tmp", ckpt)

    by_length = np.argsort([os.path.getsize(os.path.join(args.data, p)) for p, _ in rows], kind="stable")
    test = [line.rstrip("\n").split("\t") for line in open(os.path.join(args.data, "test.tsv"))]
    wavs = {}
    ema = None
    total = args.ctc_steps + args.steps  # `step` counts both stages, so a resumed run continues either one
    while step < total:
        r = np.random.default_rng([args.seed, step])
        picks = pick_batch(r, by_length, args.batch, args.length_group)[rank::args.procs]
        if args.procs > 1:  # each process augments its share from its own stream
            r = np.random.default_rng([args.seed, step, rank])
        items = []
        for i in picks:
            if i not in wavs:  # int16: 36 000 clips as float32 would take ~8.5 GB
                wavs[i] = read_pcm16(os.path.join(args.data, rows[i][0]))
            items.append((wavs[i].astype(np.float32) / 32768.0, rows[i][1]))
        mel, tokens, targets, valid = make_batch(items, tok, r, texts, regularise=args.regularise)
        n_a = (tokens < 0).sum(1)
        over = lead and time.time() - t0 > args.minutes * 60
        if step < args.ctc_steps:  # stage 1: the encoder alone learns to spell what it hears
            lr = 1e-3 * min(1.0, (step + 1) / 100)
            for gr in enc_opt.param_groups:
                gr["lr"] = lr
            loss = ctc_loss(ctc_head, audio(mel), n_a, [t for _, t in items])
            enc_opt.zero_grad()
            loss.backward()
            loss, over = average_gradients(enc_params, args.procs, loss, over)
            torch.nn.utils.clip_grad_norm_(enc_params, 1.0)
            enc_opt.step()
        else:  # stage 2: everything, on the transcript, the CTC loss kept on while there was a stage 1
            j = step - args.ctc_steps
            lr = args.lr * min(1.0, (j + 1) / args.warmup) * 0.5 * (1 + math.cos(math.pi * j / args.steps))
            for gr in opt.param_groups:
                gr["lr"] = lr
            loss, emb = answer_loss(text, audio, mel, tokens, targets, valid)
            if args.ctc_steps > 0:
                loss = loss + CTC_WEIGHT * ctc_loss(ctc_head, emb, n_a, [t for _, t in items])
            opt.zero_grad()
            loss.backward()
            loss, over = average_gradients(params, args.procs, loss, over)
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
        step += 1
        if step == args.ctc_steps + 1:
            ema = None  # a new loss
        ema = loss if ema is None else 0.98 * ema + 0.02 * loss
        if lead and (step % 10 == 0 or step == 1):
            stage = "ctc" if step <= args.ctc_steps else "joint"
            print(f"step {step} {stage} loss {loss:.3f} ema {ema:.3f} lr {lr:.2e} "
                  f"{(time.time() - t0) / 60:.1f} min", flush=True)
        if lead and step <= args.ctc_steps and step % 250 == 0:
            for path, ref in test[:2]:
                print(f"  CTC REF {ref} | HYP {ctc_greedy(ctc_head, audio, read_wav(os.path.join(args.data, path)))}",
                      flush=True)
        if step % args.save_every == 0:
            save()
        if over:
            if lead:
                print(f"time budget reached at step {step}")
            break
    save()
    if args.procs > 1:
        check = torch.stack([sum(p.detach().double().sum() for p in params)] * 2)
        check[1] = -check[1]
        torch.distributed.all_reduce(check, op=torch.distributed.ReduceOp.MAX)
        if lead:  # max of x and max of -x: equal only if every replica holds the same weights
            print(f"replicas identical: {bool(check[0] == -check[1])}", flush=True)
        torch.distributed.destroy_process_group()
    if not lead:
        return
    text.eval()
    audio.eval()
    report_listening(text, audio, tok, [(read_wav(os.path.join(args.data, p)), t) for p, t in test[:24]])
    for path, ref in test[:5]:
        print(f"REF {ref}\nHYP {transcribe(text, audio, tok, read_wav(os.path.join(args.data, path)))}")


if __name__ == "__main__":
    main()
