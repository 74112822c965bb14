#!/usr/bin/python3
"""Synthesise English speech for the demo model: generated sentences spoken by espeak-ng, resampled and
speed-perturbed by sox. Writes <out>/{train,test}/NNNNNN.wav (16 kHz mono s16) and <out>/{train,test}.tsv
(path, text). Deterministic for a given --seed.

The test split is held out three ways: its sentences come from a separate generator stream and are
dropped from train if they collide, its voice variants and its speaking rates are never used in train.
Train sentences may repeat (with other voices), so train has the test split's mix of templates.
"""

import argparse
import os
import random
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

ACCENTS = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029",
           "en-us-nyc"]
# espeak-ng voice variants; whispering / robotic ones are left out (not speech a user sends)
TRAIN_VARIANTS = ["", "m1", "m2", "m3", "m4", "m5", "m6", "f1", "f2", "f3", "f4", "Alex", "Andy", "Annie",
                  "David", "Ed", "Gene", "Jacky", "Lee", "Linda", "Mario", "Max", "Michael", "Paul", "Pedro",
                  "Rob", "Steph", "Tweaky", "anika", "john", "norbert", "travis", "victor", "grandma"]
TEST_VARIANTS = ["m7", "f5", "Alicia", "Mike", "Steph2", "Hugo", "shelby", "grandpa"]
TRAIN_SPEEDS = [120, 130, 140, 150, 160, 170, 180, 190, 200]  # words per minute
TEST_SPEEDS = [135, 155, 175]

NUM_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
ROOMS = ["kitchen", "living room", "bedroom", "bathroom", "office", "garage", "hallway", "garden"]
DEVICES = ["lights", "heater", "fan", "radio", "television", "music", "alarm", "oven", "coffee machine"]
PEOPLE = ["Anna", "Ben", "Carla", "David", "Emma", "Frank", "Grace", "Henry", "Julia", "Leo", "Maria", "Sam",
          "my mother", "my brother", "the doctor", "the teacher", "our neighbor", "the team"]
PLACES = ["the station", "the airport", "the office", "the park", "the library", "the hospital", "school",
          "the market", "the beach", "the museum", "the bank", "home"]
THINGS = ["milk", "bread", "apples", "coffee", "eggs", "rice", "tomatoes", "cheese", "batteries", "tickets",
          "books", "flowers", "water", "tea", "oranges", "potatoes"]
ADJ = ["cold", "warm", "sunny", "rainy", "quiet", "busy", "late", "early", "great", "small", "long", "short"]


def ordinal(n):
    suf = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suf}"


def time_str(r):
    h, m = r.randint(1, 12), r.choice([0, 5, 10, 15, 20, 30, 40, 45, 50, r.randint(0, 59)])
    return f"{h}:{m:02d}" if m else r.choice([f"{h} o'clock", f"{h}:00"])


def sentence(r):
    """One random English sentence; numbers are written as digits (what the model must output)."""
    n = lambda a, b: r.randint(a, b)
    templates = [
        lambda: f"Set a timer for {n(2, 90)} minutes.",
        lambda: f"Wake me up at {time_str(r)} tomorrow.",
        lambda: f"Turn {r.choice(['on', 'off'])} the {r.choice(ROOMS)} {r.choice(DEVICES)}.",
        lambda: f"Call {r.choice(PEOPLE)} at {time_str(r)}.",
        lambda: f"The meeting is on {r.choice(DAYS)}, {r.choice(MONTHS)} {ordinal(n(1, 28))}.",
        lambda: f"My birthday is on {r.choice(MONTHS)} {ordinal(n(1, 30))}.",
        lambda: f"The train leaves at {time_str(r)} from platform {n(1, 12)}.",
        lambda: f"Please buy {n(2, 12)} {r.choice(THINGS)} and some {r.choice(THINGS)}.",
        lambda: f"It costs {n(2, 99)} dollars and {n(10, 99)} cents.",
        lambda: f"The temperature today is {n(-5, 35)} degrees.",
        lambda: f"Add {r.choice(THINGS)} to my shopping list.",
        lambda: f"Remind me to call {r.choice(PEOPLE)} on {r.choice(DAYS)}.",
        lambda: f"How long does it take to get to {r.choice(PLACES)}?",
        lambda: f"We will meet at {r.choice(PLACES)} at {time_str(r)}.",
        lambda: f"I was born in {n(1950, 2020)}.",
        lambda: f"The year {n(1800, 2099)} was a {r.choice(ADJ)} year.",
        lambda: f"Room {n(100, 999)} is on the {ordinal(n(1, 20))} floor.",
        lambda: f"My phone number is {n(100, 999)} {n(100, 999)} {n(1000, 9999)}.",
        lambda: f"There are {n(2, 500)} people in {r.choice(PLACES)}.",
        lambda: f"Set the volume to {n(1, 100)} percent.",
        lambda: f"Play some music in the {r.choice(ROOMS)}.",
        lambda: f"Open the door for {r.choice(PEOPLE)}.",
        lambda: f"What is the weather like on {r.choice(DAYS)}?",
        lambda: f"It was a {r.choice(ADJ)} day at {r.choice(PLACES)}.",
        lambda: f"{r.choice(PEOPLE).capitalize()} is going to {r.choice(PLACES)} on {r.choice(DAYS)}.",
        lambda: f"Thank you very much, {r.choice(PEOPLE)}.",
        lambda: f"Good {r.choice(['morning', 'afternoon', 'evening', 'night'])}, how are you today?",
        lambda: f"I need {n(2, 9)} {r.choice(THINGS)} for the recipe.",
        lambda: f"Send a message to {r.choice(PEOPLE)} saying I will be {r.choice(['late', 'early'])}.",
        lambda: f"The flight lands at {time_str(r)} on {r.choice(MONTHS)} {ordinal(n(1, 28))}.",
        lambda: f"Can you help me find {r.choice(PLACES)}?",
        lambda: f"It is {r.choice(ADJ)} and {r.choice(ADJ)} outside.",
        lambda: f"Count from {NUM_WORDS[n(0, 3)]} to {NUM_WORDS[n(5, 10)]}.",
        lambda: f"The score was {n(0, 9)} to {n(0, 9)}.",
        lambda: f"Lock the {r.choice(['front', 'back', 'garage'])} door at {time_str(r)}.",
        lambda: f"Dim the {r.choice(ROOMS)} lights to {n(1, 9) * 10} percent.",
    ]
    return r.choice(templates)()


def sentences(seed, count, exclude=frozenset(), unique=True):
    """count sentences from the generator, none in `exclude`; unique: no sentence twice.

    The test split is unique; train is not. Deduplicating train skewed it: the generator's templates have
    4 to ~10^10 fillings, so among 12 000 unique sentences a template with few fillings ("Good <time of
    day>, how are you today?", "Can you help me find <place>?") kept a handful of examples, or none once the
    test split had taken its sentences, while the test split still drew every template about equally. With
    repeats (each spoken by another voice, rate and pitch) train has the test split's template mix."""
    r = random.Random(seed)
    out, seen = [], set(exclude)
    while len(out) < count:
        s = sentence(r)
        if s not in seen:
            if unique:
                seen.add(s)
            out.append(s)
    return out


def synth(job):
    """espeak-ng -> sox (16 kHz mono s16, speed factor, small random silence pad)."""
    path, text, voice, wpm, pitch, speed, pad0, pad1 = job
    if os.path.exists(path):
        return
    tmp = path + ".tmp.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(wpm), "-p", str(pitch), "-w", tmp, text], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(["sox", tmp, "-r", "16000", "-c", "1", "-b", "16", path, "speed", f"{speed:.3f}",
                    "pad", f"{pad0:.3f}", f"{pad1:.3f}", "rate", "16000"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.remove(tmp)


def make_split(out, name, texts, variants, speeds, seed, jobs_out):
    r = random.Random(seed)
    os.makedirs(os.path.join(out, name), exist_ok=True)
    rows = []
    for i, text in enumerate(texts):
        accent, variant = r.choice(ACCENTS), r.choice(variants)
        voice = accent + (f"+{variant}" if variant else "")
        path = os.path.join(name, f"{i:06d}.wav")
        job = (os.path.join(out, path), text, voice, r.choice(speeds), r.randint(25, 75),
               r.uniform(0.9, 1.1) if name == "train" else 1.0, r.uniform(0.05, 0.4), r.uniform(0.05, 0.4))
        jobs_out.append(job)
        rows.append(f"{path}\t{text}\n")
    with open(os.path.join(out, f"{name}.tsv"), "w") as f:
        f.writelines(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--n-train", type=int, default=12000)
    ap.add_argument("--n-test", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()

    test_texts = sentences(args.seed + 1, args.n_test)
    train_texts = sentences(args.seed, args.n_train, exclude=frozenset(test_texts), unique=False)
    jobs = []
    make_split(args.out, "train", train_texts, TRAIN_VARIANTS, TRAIN_SPEEDS, args.seed + 2, jobs)
    make_split(args.out, "test", test_texts, TEST_VARIANTS, TEST_SPEEDS, args.seed + 3, jobs)
    with ThreadPoolExecutor(args.jobs) as ex:
        for k, _ in enumerate(ex.map(synth, jobs)):
            if k % 500 == 0:
                print(f"{k}/{len(jobs)}", file=sys.stderr, flush=True)
    print(f"wrote {len(train_texts)} train + {len(test_texts)} test utterances to {args.out}")


if __name__ == "__main__":
    main()
