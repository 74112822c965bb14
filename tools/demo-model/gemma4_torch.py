"""Gemma 4 text decoder (`gemma4`) and audio encoder (`gemma4a`) in PyTorch, computed as llama.cpp does.

Weights live in nn.ParameterDicts keyed by their llama.cpp GGUF tensor names ('.' -> '__'), so loading
and exporting are name-for-name. Shapes follow numpy order of the GGUF tensor: a matmul weight with
ggml ne = [n_in, n_out] is a torch tensor (n_out, n_in), i.e. nn.Linear layout.

Written from the facts of llama.cpp's graphs (src/models/gemma4-iswa.cpp, tools/mtmd/models/gemma4a.cpp,
tools/mtmd/clip.cpp input setup, tools/mtmd/mtmd-audio.cpp preprocessing); no code copied.
"""

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import gguf_io

# --------------------------------------------------------------------------------------------------
# log-mel (mtmd gemma4a preprocessing)

SAMPLE_RATE = 16000
N_FFT = 512
WIN_LEN = 320  # 20 ms periodic Hann, zero-padded to N_FFT on the right
HOP = 160  # 10 ms
MEL_FLOOR = 1e-3
CHUNK_SAMPLES = 30 * SAMPLE_RATE


def mel_filterbank(n_mel=128):
    """HTK-scale triangular filters without area normalisation, 0 Hz .. Nyquist: [n_mel][N_FFT/2 + 1]."""
    hz_to_mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)
    mel_to_hz = lambda m: 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    mel_pts = np.linspace(hz_to_mel(0.0), hz_to_mel(SAMPLE_RATE / 2), n_mel + 2)
    hz = mel_to_hz(mel_pts)
    f = np.arange(N_FFT // 2 + 1) * (SAMPLE_RATE / N_FFT)
    left, center, right = hz[:-2, None], hz[1:-1, None], hz[2:, None]
    up = (f - left) / np.maximum(center - left, 1e-30)
    down = (right - f) / np.maximum(right - center, 1e-30)
    w = np.where((f >= left) & (f <= center), up, np.where((f > center) & (f <= right), down, 0.0))
    return w.astype(np.float32).astype(np.float64)  # llama.cpp stores the filters as float


def log_mel(pcm, n_mel=128):
    """16 kHz mono float PCM -> list of [n_mel][n_frames] float32 chunks (one per 30 s), float64 inside."""
    pcm = np.asarray(pcm, dtype=np.float32)
    window = np.zeros(N_FFT)
    i = np.arange(WIN_LEN)
    window[:WIN_LEN] = (0.5 - 0.5 * np.cos(2.0 * np.pi * i / WIN_LEN)).astype(np.float32)
    filters = mel_filterbank(n_mel)
    chunks = []
    for off in range(0, len(pcm), CHUNK_SAMPLES):
        chunk = pcm[off:off + CHUNK_SAMPLES].astype(np.float64)
        pad_left = WIN_LEN // 2
        # frame count of the reference's unfold(size=WIN_LEN + 1, step=HOP) over the left-padded signal
        n_frames = (len(chunk) + pad_left - (WIN_LEN + 1)) // HOP + 1
        if n_frames < 1:
            raise ValueError(f"audio chunk of {len(chunk)} samples is too short for one mel frame")
        total = max((n_frames - 1) * HOP + N_FFT, len(chunk) + pad_left)
        padded = np.zeros(total)
        padded[pad_left:pad_left + len(chunk)] = chunk
        idx = np.arange(n_frames)[:, None] * HOP + np.arange(N_FFT)[None, :]  # [n_frames][N_FFT]
        spec = np.abs(np.fft.rfft(padded[idx] * window, axis=1))  # [n_frames][257]
        mel = np.log(np.maximum(spec @ filters.T, MEL_FLOOR))  # [n_frames][n_mel]
        chunks.append(mel.T.astype(np.float32).copy())
    return chunks


# --------------------------------------------------------------------------------------------------
# shared pieces


def _key(name):
    return name.replace(".", "__")


def rms_norm(x, w=None, eps=1e-6):
    y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
    return y * w if w is not None else y


def load_params(reader, names=None):
    """GGUF tensors -> {name: float32 torch tensor}."""
    names = names if names is not None else list(reader.tensors)
    return {n: torch.from_numpy(np.ascontiguousarray(reader.tensor(n), dtype=np.float32)) for n in names}


class GgufModule(nn.Module):
    """Parameters addressed by GGUF tensor name."""

    def __init__(self):
        super().__init__()
        self.p = nn.ParameterDict()

    def w(self, name):
        return self.p[_key(name)]

    def has(self, name):
        return _key(name) in self.p

    def set_param(self, name, tensor, trainable=True):
        self.p[_key(name)] = nn.Parameter(tensor.float().contiguous(), requires_grad=trainable)

    def gguf_tensors(self):
        """(gguf name, numpy array) for every parameter."""
        return [(k.replace("__", "."), v.detach().cpu().numpy()) for k, v in self.p.items()]


# --------------------------------------------------------------------------------------------------
# gemma4 text decoder


@dataclass
class TextConfig:
    n_vocab: int
    n_embd: int
    n_layer: int
    n_head: int
    n_head_kv: int
    head_dim: int  # full-attention layers
    head_dim_swa: int  # sliding-window layers
    n_ff: list  # per layer
    swa_pattern: list  # per layer: True = sliding window
    n_shared_kv: int
    n_embd_per_layer: int
    sliding_window: int
    rope_base: float = 1e6
    rope_base_swa: float = 1e4
    n_rot: int = 0  # 0 = head_dim
    n_rot_swa: int = 0
    softcap: float = 30.0
    eps: float = 1e-6
    context_length: int = 131072

    @staticmethod
    def from_meta(m, n_vocab):
        a = "gemma4."
        n_layer = int(m[a + "block_count"])
        n_ff = m[a + "feed_forward_length"]
        n_ff = [int(x) for x in n_ff] if hasattr(n_ff, "__len__") else [int(n_ff)] * n_layer
        return TextConfig(
            n_vocab=n_vocab, n_embd=int(m[a + "embedding_length"]), n_layer=n_layer,
            n_head=int(m[a + "attention.head_count"]), n_head_kv=int(m[a + "attention.head_count_kv"]),
            head_dim=int(m[a + "attention.key_length"]), head_dim_swa=int(m[a + "attention.key_length_swa"]),
            n_ff=n_ff, swa_pattern=[bool(x) for x in m[a + "attention.sliding_window_pattern"]],
            n_shared_kv=int(m.get(a + "attention.shared_kv_layers", 0)),
            n_embd_per_layer=int(m[a + "embedding_length_per_layer_input"]),
            sliding_window=int(m[a + "attention.sliding_window"]),
            rope_base=float(m[a + "rope.freq_base"]), rope_base_swa=float(m[a + "rope.freq_base_swa"]),
            n_rot=int(m.get(a + "rope.dimension_count", 0)), n_rot_swa=int(m.get(a + "rope.dimension_count_swa", 0)),
            softcap=float(m.get(a + "final_logit_softcapping", 0.0)),
            eps=float(m[a + "attention.layer_norm_rms_epsilon"]),
            context_length=int(m.get(a + "context_length", 131072)))

    def layer_head_dim(self, il):
        return self.head_dim_swa if self.swa_pattern[il] else self.head_dim

    def kv_source(self, il):
        """The layer whose K/V layer il uses: itself, or for the last n_shared_kv layers the last earlier
        layer of the same attention type that has its own KV."""
        first_shared = self.n_layer - self.n_shared_kv
        if il < first_shared:
            return il
        for j in range(first_shared - 1, -1, -1):
            if self.swa_pattern[j] == self.swa_pattern[il]:
                return j
        raise ValueError(f"layer {il}: no earlier layer of the same type to share KV with")


def rope_neox(x, pos, n_rot, base, freq_factors=None):
    """x: [B, T, H, D]; rotate the first n_rot dims as pairs (i, i + n_rot/2) (ggml NEOX mode)."""
    half = n_rot // 2
    inv = base ** (-torch.arange(half, dtype=torch.float64) * 2.0 / n_rot)  # [half]
    if freq_factors is not None:
        inv = inv / freq_factors.double()
    ang = pos.double()[..., None] * inv  # [B, T, half]
    cos, sin = torch.cos(ang).float()[:, :, None, :], torch.sin(ang).float()[:, :, None, :]
    x1, x2, rest = x[..., :half], x[..., half:n_rot], x[..., n_rot:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin, rest], dim=-1)


class TextModel(GgufModule):
    def __init__(self, cfg: TextConfig):
        super().__init__()
        self.cfg = cfg
        self.taps = None  # dict to record named intermediates, or None

    @staticmethod
    def from_gguf(path):
        r = gguf_io.Reader(path)
        n_vocab = r.tensors["token_embd.weight"]["ne"][1]
        m = TextModel(TextConfig.from_meta(r.meta, n_vocab))
        for n, t in load_params(r).items():
            m.set_param(n, t)
        m.reader = r
        return m

    def _tap(self, name, x):
        if self.taps is not None:
            self.taps[name] = x.detach()

    def embed(self, tokens, audio_embd=None):
        """tokens: [B, T] int64 with -1 where audio embedding rows go; audio_embd: [n_audio_rows, n_embd]
        in order of the -1 positions (row-major over the batch). Returns (inp_scaled, ple_tokens)."""
        c = self.cfg
        is_audio = tokens < 0
        ids = tokens.clamp(min=0)  # audio rows take the per-layer embedding of token 0 (padding), as llama.cpp
        x = F.embedding(ids, self.w("token_embd.weight")) * math.sqrt(c.n_embd)
        if is_audio.any():
            x = x.clone()
            x[is_audio] = audio_embd.to(x.dtype)
        return x, ids

    def per_layer_inputs(self, x, ids):
        """[B, T, n_layer, n_embd_per_layer]: token PLE rows mixed with a projection of the input."""
        c = self.cfg
        B, T, _ = x.shape
        tok = F.embedding(ids, self.w("per_layer_token_embd.weight")) * math.sqrt(c.n_embd_per_layer)
        tok = tok.view(B, T, c.n_layer, c.n_embd_per_layer)
        proj = F.linear(x, self.w("per_layer_model_proj.weight")) / math.sqrt(c.n_embd)
        proj = rms_norm(proj.view(B, T, c.n_layer, c.n_embd_per_layer), self.w("per_layer_proj_norm.weight"), c.eps)
        return (proj + tok) / math.sqrt(2.0)

    def forward(self, tokens, audio_embd=None, pos=None, valid=None, out_idx=None):
        """tokens [B, T] (-1 = audio row). Returns logits [B, T, n_vocab] (soft-capped).
        valid: optional [B, T] bool of real (non-padding) positions; padding keys are masked.
        out_idx: optional [B, A] positions whose logits are wanted (training: the answer); returns
        [B, A, n_vocab]. The layers that only read shared K/V then run on those positions alone."""
        c = self.cfg
        B, T = tokens.shape
        if pos is None:
            pos = torch.arange(T).expand(B, T)
        x, ids = self.embed(tokens, audio_embd)
        self._tap("inp_scaled", x)
        ple = self.per_layer_inputs(x, ids)

        qp, kp = pos[:, :, None], pos[:, None, :]
        causal = kp <= qp  # [B, T, T]
        if valid is not None:
            causal = causal & valid[:, None, :]
        # a query may always see itself: keeps padding rows (whose keys are all masked) finite
        diag = torch.eye(T, dtype=torch.bool)
        masks = {False: causal | diag, True: (causal & (qp - kp < c.sliding_window)) | diag}
        rope_ff = self.w("rope_freqs.weight") if self.has("rope_freqs.weight") else None

        kv = {}
        qpos = pos
        for il in range(c.n_layer):
            pre = f"blk.{il}."
            if out_idx is not None and il == c.n_layer - c.n_shared_kv:
                # no later layer writes K/V, so no other position's output is needed any more
                x = x.gather(1, out_idx[:, :, None].expand(-1, -1, x.shape[-1]))
                ple = ple.gather(1, out_idx[:, :, None, None].expand(-1, -1, *ple.shape[2:]))
                qpos = pos.gather(1, out_idx)
                masks = {k: m.gather(1, out_idx[:, :, None].expand(-1, -1, T)) for k, m in masks.items()}
            Tq = x.shape[1]
            swa = c.swa_pattern[il]
            hd = c.layer_head_dim(il)
            n_rot = (c.n_rot_swa if swa else c.n_rot) or hd
            base = c.rope_base_swa if swa else c.rope_base
            ff = None if swa else rope_ff

            h = rms_norm(x, self.w(pre + "attn_norm.weight"), c.eps)
            q = F.linear(h, self.w(pre + "attn_q.weight")).view(B, Tq, c.n_head, hd)
            q = rope_neox(rms_norm(q, self.w(pre + "attn_q_norm.weight"), c.eps), qpos, n_rot, base, ff)
            src = c.kv_source(il)
            if src == il:
                k = F.linear(h, self.w(pre + "attn_k.weight")).view(B, T, c.n_head_kv, hd)
                v = F.linear(h, self.w(pre + "attn_v.weight")).view(B, T, c.n_head_kv, hd)
                k = rope_neox(rms_norm(k, self.w(pre + "attn_k_norm.weight"), c.eps), pos, n_rot, base, ff)
                v = rms_norm(v, None, c.eps)
                kv[il] = (k, v)
            k, v = kv[src]
            rep = c.n_head // c.n_head_kv
            kh = k.repeat_interleave(rep, dim=2).transpose(1, 2)  # [B, H, T, hd]
            vh = v.repeat_interleave(rep, dim=2).transpose(1, 2)
            qh = q.transpose(1, 2)
            s = qh @ kh.transpose(-1, -2)  # attention scale 1: q/k norms replace 1/sqrt(d)
            s = s.masked_fill(~masks[swa][:, None], float("-inf"))
            a = (torch.softmax(s, dim=-1) @ vh).transpose(1, 2).reshape(B, Tq, c.n_head * hd)
            a = F.linear(a, self.w(pre + "attn_output.weight"))
            x = x + rms_norm(a, self.w(pre + "post_attention_norm.weight"), c.eps)

            h = rms_norm(x, self.w(pre + "ffn_norm.weight"), c.eps)
            g = F.gelu(F.linear(h, self.w(pre + "ffn_gate.weight")), approximate="tanh")
            h = F.linear(g * F.linear(h, self.w(pre + "ffn_up.weight")), self.w(pre + "ffn_down.weight"))
            x = x + rms_norm(h, self.w(pre + "post_ffw_norm.weight"), c.eps)

            g = F.gelu(F.linear(x, self.w(pre + "inp_gate.weight")), approximate="tanh") * ple[:, :, il]
            g = F.linear(g, self.w(pre + "proj.weight"))
            x = x + rms_norm(g, self.w(pre + "post_norm.weight"), c.eps)
            if self.has(pre + "layer_output_scale.weight"):
                x = x * self.w(pre + "layer_output_scale.weight")
            self._tap(f"l_out-{il}", x)

        if out_idx is not None and c.n_shared_kv == 0:
            x = x.gather(1, out_idx[:, :, None].expand(-1, -1, x.shape[-1]))
        x = rms_norm(x, self.w("output_norm.weight"), c.eps)
        self._tap("h_nextn", x)
        return self.lm_head(x)

    def lm_head(self, x):
        w = self.w("output.weight") if self.has("output.weight") else self.w("token_embd.weight")
        logits = F.linear(x, w)
        if self.cfg.softcap:
            logits = torch.tanh(logits / self.cfg.softcap) * self.cfg.softcap
        return logits


# --------------------------------------------------------------------------------------------------
# gemma4a audio encoder


@dataclass
class AudioConfig:
    n_mel: int
    n_embd: int
    n_ff: int
    n_layer: int
    n_head: int
    n_embd_text: int
    eps: float = 1e-6
    chunk: int = 12  # attention chunk size (queries per block)
    max_past: int = 12  # keys reach back max_past - 1 positions (mask: gq - gk < max_past)
    conv_kernel: int = 5
    attn_softcap: float = 50.0
    res_weight: float = 0.5
    clamp: dict = field(default_factory=dict)  # weight name -> (in_min, in_max, out_min, out_max)

    @staticmethod
    def from_meta(m):
        a = "clip.audio."
        return AudioConfig(
            n_mel=int(m[a + "num_mel_bins"]), n_embd=int(m[a + "embedding_length"]),
            n_ff=int(m[a + "feed_forward_length"]), n_layer=int(m[a + "block_count"]),
            n_head=int(m[a + "attention.head_count"]), n_embd_text=int(m[a + "projection_dim"]),
            eps=float(m.get(a + "attention.layer_norm_epsilon", 1e-6)))


CLAMP_SUFFIXES = ("input_min", "input_max", "output_min", "output_max")


def _f16_ste(x):
    """Round to F16 in the forward pass; identity gradient."""
    return x + (x.half().float() - x).detach()


class AudioEncoder(GgufModule):
    def __init__(self, cfg: AudioConfig, f16_conv=True):
        super().__init__()
        self.cfg = cfg
        self.f16_conv = f16_conv
        self.taps = None

    @staticmethod
    def from_gguf(path):
        r = gguf_io.Reader(path)
        m = AudioEncoder(AudioConfig.from_meta(r.meta))
        for n, t in load_params(r).items():
            m.set_param(n, t)
        m.reader = r
        return m

    def _tap(self, name, x):
        if self.taps is not None:
            self.taps[name] = x.detach()

    def linear(self, name, x):
        """ClippableLinear: clamp the input, matmul, clamp the output (bounds from `<name>.input_min` ...)."""
        base = name[: -len(".weight")]
        # bounds are constants (not trained); python floats keep torch on its fast clamp path
        if self.has(base + ".input_min"):
            x = x.clamp(float(self.w(base + ".input_min")), float(self.w(base + ".input_max")))
        y = F.linear(x, self.w(name), self.w(base + ".bias") if self.has(base + ".bias") else None)
        if self.has(base + ".output_min"):
            y = y.clamp(float(self.w(base + ".output_min")), float(self.w(base + ".output_max")))
        return y

    def ffn(self, pre, sfx, x):
        c = self.cfg
        h = rms_norm(x, self.w(f"{pre}ffn_norm{sfx}.weight"), c.eps)
        h = self.linear(f"{pre}ffn_down{sfx}.weight", F.silu(self.linear(f"{pre}ffn_up{sfx}.weight", h)))
        return rms_norm(h, self.w(f"{pre}ffn_post_norm{sfx}.weight"), c.eps)

    def rel_pos(self):
        """Sinusoidal embeddings of relative distances 0..max_past: [max_past + 1][n_embd]."""
        c = self.cfg
        n_ts = c.n_embd // 2
        inc = math.log(10000.0) / max(n_ts - 1, 1)
        inv = torch.exp(-torch.arange(n_ts, dtype=torch.float32) * inc)  # [n_ts]
        d = torch.arange(c.max_past + 1, dtype=torch.float32)[:, None] * inv  # [R][n_ts]
        return torch.cat([torch.sin(d), torch.cos(d)], dim=1)

    def attention(self, pre, x):
        """Local causal attention: query i sees keys i - max_past + 1 .. i, with a Transformer-XL style
        relative term q_i . r(i - j), logits soft-capped, keys scaled by softplus(1)/ln 2."""
        c = self.cfg
        B, T, _ = x.shape
        H, D = c.n_head, c.n_embd // c.n_head
        h = rms_norm(x, self.w(pre + "attn_pre_norm.weight"), c.eps)
        q = self.linear(pre + "attn_q.weight", h).view(B, T, H, D)
        k = self.linear(pre + "attn_k.weight", h).view(B, T, H, D)
        v = self.linear(pre + "attn_v.weight", h).view(B, T, H, D)
        q = q * ((1.0 / math.sqrt(D)) / math.log(2.0))
        if self.has(pre + "per_dim_scale.weight"):
            q = q * self.w(pre + "per_dim_scale.weight")
        k = k * (math.log(1.0 + math.e) / math.log(2.0))
        if self.has(pre + "per_dim_k_scale.weight"):
            k = k * self.w(pre + "per_dim_k_scale.weight")
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)  # [B, H, T, D]

        ac = q @ k.transpose(-1, -2)  # [B, H, T, T]
        r = F.linear(self.rel_pos(), self.w(pre + "attn_k_rel.weight")).view(-1, H, D)  # [R, H, D]
        qr = torch.einsum("bhtd,rhd->bhtr", q, r)  # [B, H, T, R]: q_i . r(dist)
        i = torch.arange(T)
        dist = i[:, None] - i[None, :]  # [T, T] query - key
        band = (dist >= 0) & (dist < c.max_past)
        bd = torch.gather(qr, 3, dist.clamp(0, c.max_past).expand(B, H, T, T))
        s = torch.tanh((ac + bd) / c.attn_softcap) * c.attn_softcap
        s = s.masked_fill(~band, float("-inf"))
        o = (torch.softmax(s, dim=-1) @ v).transpose(1, 2).reshape(B, T, H * D)
        o = self.linear(pre + "attn_out.weight", o)
        return rms_norm(o, self.w(pre + "attn_post_norm.weight"), c.eps)

    def conv_module(self, pre, x):
        c = self.cfg
        h = rms_norm(x, self.w(pre + "conv_norm.weight"), c.eps)
        h = self.linear(pre + "conv_pw1.weight", h)
        a, g = h.chunk(2, dim=-1)
        h = (a * torch.sigmoid(g)).transpose(1, 2)  # [B, C, T]
        w = self.w(pre + "conv_dw.weight")  # [C][K]
        h = F.conv1d(F.pad(h, (c.conv_kernel - 1, 0)), w[:, None, :], groups=w.shape[0])  # causal
        h = h.transpose(1, 2)
        if self.has(pre + "conv_dw.bias"):
            h = h + self.w(pre + "conv_dw.bias")
        h = F.silu(rms_norm(h, self.w(pre + "norm_conv.weight"), c.eps))
        return self.linear(pre + "conv_pw2.weight", h)

    def subsample(self, mel):
        """mel [B, n_mel, T] -> [B, ceil(T/4), n_embd]: two stride-2 3x3 convs over (time, freq)."""
        c = self.cfg
        h = mel.transpose(1, 2)[:, None]  # [B, 1, T, n_mel]
        for i in range(2):
            w = self.w(f"a.conv1d.{i}.weight")
            if self.f16_conv:
                # ggml's conv_2d goes through an F16 im2col and F16 kernel (rel. 3.7e-4 otherwise)
                h, w = _f16_ste(h), _f16_ste(w)
            h = F.conv2d(h, w, self.w(f"a.conv1d.{i}.bias")
                         if self.has(f"a.conv1d.{i}.bias") else None, stride=2, padding=1)
            if self.has(f"a.conv1d.{i}.norm.weight"):
                h = h.permute(0, 2, 3, 1)  # channels last
                h = F.layer_norm(h, h.shape[-1:], self.w(f"a.conv1d.{i}.norm.weight"),
                                 self.w(f"a.conv1d.{i}.norm.bias") if self.has(f"a.conv1d.{i}.norm.bias") else None,
                                 eps=c.eps)
                h = h.permute(0, 3, 1, 2)
            h = F.relu(h)
        B, C, T, Fq = h.shape
        h = h.permute(0, 2, 3, 1).reshape(B, T, Fq * C)  # feature = freq * C + channel
        return self.linear("a.input_projection.weight", h)

    def forward(self, mel):
        """mel [B, n_mel, T] (zero right-padding is exact: convs have no bias, attention/conv are causal).
        Returns [B, ceil(ceil(T/2)/2), n_embd_text]."""
        c = self.cfg
        x = self.subsample(mel)
        self._tap("subsampled", x)
        for il in range(c.n_layer):
            pre = f"a.blk.{il}."
            x = x + c.res_weight * self.ffn(pre, "", x)
            x = x + self.attention(pre, x)
            x = x + self.conv_module(pre, x)
            x = x + c.res_weight * self.ffn(pre, "_1", x)
            x = rms_norm(x, self.w(pre + "ln2.weight"), c.eps)
            self._tap(f"block{il}", x)
        x = self.linear("a.pre_encode.out.weight", x)
        x = rms_norm(x, self.w("mm.a.soft_emb_norm.weight") if self.has("mm.a.soft_emb_norm.weight") else None, c.eps)
        return self.linear("mm.a.input_projection.weight", x)


def n_audio_tokens(n_frames):
    t = n_frames
    for _ in range(2):
        t = (t - 1) // 2 + 1
    return t
