"""A small Gemma-4-style BPE vocabulary of our own, and the transcription prompt.

Same scheme as Gemma 4's tokenizer (GGUF `tokenizer.ggml.model = gemma4`): raw UTF-8, spaces written as
U+2581, merges applied by rank over the text, byte-fallback tokens <0xXX> for anything else. Merges here
never cross a word start, never touch digits or punctuation (numbers are spelled digit by digit, as in
Gemma), so any faithful implementation of that scheme encodes our texts exactly as we do in training.
"""

import json
import re
from collections import Counter

SPACE = "\u2581"
# (text, GGUF token type): 3 = control, 4 = user-defined, as in Gemma 4's vocabulary
SPECIALS = [("<pad>", 3), ("<eos>", 3), ("<bos>", 3), ("<unk>", 3), ("<mask>", 3),
            ("<|tool>", 3), ("<tool|>", 3), ("<|tool_call>", 4), ("<tool_call|>", 4), ("<|tool_response>", 4),
            ("<tool_response|>", 4), ('<|"|>', 4), ("<|think|>", 3), ("<|channel>", 4), ("<channel|>", 4),
            ("<|turn>", 3), ("<turn|>", 3), ("<|image>", 3), ("<|audio>", 3), ("<|image|>", 3),
            ("<|audio|>", 3), ("<image|>", 3), ("<audio|>", 3), ("<|video|>", 3)]
T_NORMAL, T_CONTROL, T_USER, T_BYTE = 1, 3, 4, 6

# The prompt hark sends for a transcription (thinking off: no system turn), as `transcription_instruction()`
# in src/text/chat_prompt.cpp builds it: with no language, with `language`, and with context text (the
# previous window's transcript in long audio, or the request's `prompt`). See docs/prompt.md.
FORMAT_ASR = (" Follow these specific instructions for formatting the answer:\n"
              "* Only output the transcription, with no newlines.\n"
              "* When transcribing numbers, write the digits, i.e. write 1.7 and not one point seven, and write 3 "
              "instead of three.")
CONTEXT_LINE = ("\n* The speech may continue this earlier text or use its names and terms; use it only as a guide "
                "to spelling and style: ")
END_OF_ANSWER = "<turn|>"


def instruction(language=None, context=None):
    s = (f"Transcribe the following speech segment in {language} into {language} text." if language else
         "Transcribe the following speech segment in its original language.") + FORMAT_ASR
    return s + CONTEXT_LINE + context.strip() if context and context.strip() else s


INSTRUCTION = instruction()
EXTRA_WORDS = ["user", "model", "system", instruction("English", "x")]
# A minimal Gemma 4 turn template (no tools, no thinking), for clients that render the chat template.
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|turn>{{ 'model' if m['role'] == 'assistant' else m['role'] }}\n"
    "{{ m['content'] | trim }}<turn|>\n{% endfor %}{% if add_generation_prompt %}<|turn>model\n{% endif %}")

_SPECIAL_RE = re.compile("|".join(re.escape(s) for s, _ in sorted(SPECIALS, key=lambda x: -len(x[0]))))


def _mergeable(a, b):
    merged = a + b
    if SPACE in merged[1:]:
        return False
    body = merged.lstrip(SPACE)
    return bool(body) and all(ch.isalpha() or ch == "'" for ch in body) and (a != SPACE or b[0].isalpha())


class Tokenizer:
    def __init__(self, tokens, types, merges):
        self.tokens, self.types, self.merges = tokens, types, merges
        self.id = {t: i for i, t in enumerate(tokens)}
        self.rank = {tuple(m.split(" ", 1)): r for r, m in enumerate(merges)}

    @staticmethod
    def train(texts, n_merges):
        words = Counter()
        texts = list(texts)
        for t, n in [(t, 1) for t in texts] + [(t, max(1, len(texts) // 20)) for t in EXTRA_WORDS]:
            for w in re.findall(r" ?[^ ]+", t.replace("\n", " ")):
                words[tuple(w.replace(" ", SPACE))] += n
        chars = sorted({c for w in words for c in w} | {SPACE})
        tokens = [s for s, _ in SPECIALS] + ["\n"] + [f"<0x{b:02X}>" for b in range(256)]
        types = [ty for _, ty in SPECIALS] + [T_NORMAL] + [T_BYTE] * 256
        tokens += [c for c in chars if c not in tokens]
        types += [T_NORMAL] * (len(tokens) - len(types))
        merges = []
        words = {w: n for w, n in words.items()}
        for _ in range(n_merges):
            pairs = Counter()
            for w, n in words.items():
                for a, b in zip(w, w[1:]):
                    if _mergeable(a, b):
                        pairs[a, b] += n
            if not pairs:
                break
            (a, b), _ = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))
            merges.append(f"{a} {b}")
            tokens.append(a + b)
            types.append(T_NORMAL)
            new = {}
            for w, n in words.items():
                out, i = [], 0
                while i < len(w):
                    if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                        out.append(a + b)
                        i += 2
                    else:
                        out.append(w[i])
                        i += 1
                new[tuple(out)] = new.get(tuple(out), 0) + n
            words = new
        return Tokenizer(tokens, types, merges)

    def encode_text(self, text):
        """Plain text (no special tokens) -> ids."""
        syms = list(text.replace(" ", SPACE))
        while len(syms) > 1:
            best = min(range(len(syms) - 1), key=lambda i: self.rank.get((syms[i], syms[i + 1]), 1 << 30))
            if (syms[best], syms[best + 1]) not in self.rank:
                break
            syms[best:best + 2] = [syms[best] + syms[best + 1]]
        ids = []
        for s in syms:
            if s in self.id:
                ids.append(self.id[s])
            else:
                ids += [self.id[f"<0x{b:02X}>"] for b in s.encode("utf-8")]
        return ids

    def encode(self, text):
        """Text with special tokens written inline -> ids."""
        ids, pos = [], 0
        for m in _SPECIAL_RE.finditer(text):
            ids += self.encode_text(text[pos:m.start()]) if m.start() > pos else []
            ids.append(self.id[m.group(0)])
            pos = m.end()
        return ids + (self.encode_text(text[pos:]) if pos < len(text) else [])

    def decode(self, ids):
        out = bytearray()
        for i in ids:
            t = self.tokens[i]
            if self.types[i] == T_BYTE:
                out.append(int(t[3:5], 16))
            elif self.types[i] == T_CONTROL:
                continue
            else:
                out += t.replace(SPACE, " ").encode("utf-8")
        return out.decode("utf-8", errors="replace")

    def prompt(self, language=None, context=None):
        """(ids before the audio rows, ids after them) of the transcription prompt."""
        head = "<bos><|turn>user\n" + instruction(language, context) + "<|audio>"
        return self.encode(head), self.encode("<audio|><turn|>\n<|turn>model\n")

    def save(self, path):
        with open(path, "w") as f:
            json.dump({"tokens": self.tokens, "types": self.types, "merges": self.merges}, f)

    @staticmethod
    def load(path):
        with open(path) as f:
            d = json.load(f)
        return Tokenizer(d["tokens"], d["types"], d["merges"])

    def gguf_metadata(self):
        """(key, value, type) rows for the text GGUF, as llama.cpp's Gemma 4 vocabulary has them."""
        import gguf_io as g
        return [
            ("tokenizer.ggml.model", "gemma4", g.T_STR),
            ("tokenizer.ggml.tokens", self.tokens, (g.T_ARR, g.T_STR)),
            ("tokenizer.ggml.scores", [-1000.0 if ty != T_NORMAL else 0.0 for ty in self.types],
             (g.T_ARR, g.T_F32)),
            ("tokenizer.ggml.token_type", self.types, (g.T_ARR, g.T_I32)),
            ("tokenizer.ggml.merges", self.merges, (g.T_ARR, g.T_STR)),
            ("tokenizer.ggml.bos_token_id", self.id["<bos>"], g.T_U32),
            ("tokenizer.ggml.eos_token_id", self.id["<eos>"], g.T_U32),
            ("tokenizer.ggml.unknown_token_id", self.id["<unk>"], g.T_U32),
            ("tokenizer.ggml.padding_token_id", self.id["<pad>"], g.T_U32),
            ("tokenizer.ggml.mask_token_id", self.id["<mask>"], g.T_U32),
            ("tokenizer.ggml.add_space_prefix", False, g.T_BOOL),
            ("tokenizer.ggml.add_bos_token", True, g.T_BOOL),
            ("tokenizer.chat_template", CHAT_TEMPLATE, g.T_STR),
        ]
