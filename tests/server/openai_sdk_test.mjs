// Black-box test of hark's HTTP API with the official OpenAI Node SDK, curl and plain fetch; every JSON body
// and stream event is validated against OpenAI's published schema (../shared/fixtures/openai/openapi.yaml).
//
//   node openai_sdk_test.mjs <server-binary|base-url> <shared-dir> <npm-dir>
//
// With a server binary (hark serve's flags), the test starts it several times on free ports: plain, with an
// API key, with a tiny upload limit, and with one slot and no queue (429). With a base URL (e.g.
// http://127.0.0.1:8080/v1) it runs the checks that need no special server flags against that server.
// npm packages (openai, ajv, yaml) are installed into <npm-dir> on first use.
import { spawn, spawnSync, execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";
import assert from "node:assert/strict";

const [target, sharedDirArg, npmDirArg] = process.argv.slice(2);
if (!target || !sharedDirArg || !npmDirArg) {
  console.error("usage: openai_sdk_test.mjs <server-binary|base-url> <shared-dir> <npm-dir>");
  process.exit(2);
}
const sharedDir = path.resolve(sharedDirArg);
const npmDir = path.resolve(npmDirArg);

// --- dependencies -----------------------------------------------------------------------------------------
fs.mkdirSync(npmDir, { recursive: true });
const pkgJson = path.join(npmDir, "package.json");
if (!fs.existsSync(path.join(npmDir, "node_modules", "openai", "package.json"))) {
  fs.writeFileSync(pkgJson, JSON.stringify({ name: "hark-sdk-test", private: true }));
  const r = spawnSync("npm", ["install", "--no-audit", "--no-fund", "--no-package-lock", "openai@^6", "ajv@^8", "yaml@^2"],
    { cwd: npmDir, stdio: "inherit" });
  if (r.status !== 0) {
    console.error("npm install failed");
    process.exit(1);
  }
}
const require = createRequire(pkgJson);
const OpenAI = require("openai").default ?? require("openai");
const Ajv = require("ajv").default ?? require("ajv");
const YAML = require("yaml");

// --- schema validation ------------------------------------------------------------------------------------
const spec = YAML.parse(fs.readFileSync(path.join(sharedDir, "fixtures/openai/openapi.yaml"), "utf8"));
// OpenAPI 3.0's `nullable: true` as JSON Schema: "null" added to the type (and enum), or for a schema
// without a type, anyOf the schema and null. The spec is not changed otherwise.
function nullableToJsonSchema(node) {
  if (Array.isArray(node)) return node.map(nullableToJsonSchema);
  if (node === null || typeof node !== "object") return node;
  const out = {};
  for (const [k, v] of Object.entries(node)) out[k] = nullableToJsonSchema(v);
  if (out.nullable !== true) return out;
  delete out.nullable;
  if (typeof out.type === "string") {
    out.type = [out.type, "null"];
    if (Array.isArray(out.enum)) out.enum = [...out.enum, null];
    return out;
  }
  return { anyOf: [out, { type: "null" }] };
}
const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
ajv.addSchema({ $id: "openai", components: nullableToJsonSchema(spec.components) });
let validated = 0;
function check(schemaName, value) {
  const validate = ajv.getSchema(`openai#/components/schemas/${schemaName}`);
  assert.ok(validate, `schema ${schemaName} not found`);
  if (!validate(value)) {
    throw new Error(`${schemaName} violated: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(value).slice(0, 500)}`);
  }
  validated++;
}

// --- servers ----------------------------------------------------------------------------------------------
const children = [];
async function startServer(args = []) {
  const child = spawn(target, ["--port", "0", ...args], { stdio: ["ignore", "ignore", "pipe"] });
  children.push(child);
  let log = "";
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${log}`)), 20000);
    child.stderr.on("data", (d) => {
      log += d;
      const m = /http:\/\/[^:]+:(\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.on("exit", (code) => reject(new Error(`server exited with ${code}: ${log}`)));
  });
  return { base: `http://127.0.0.1:${port}/v1`, child };
}
function stopAll() {
  for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
}
process.on("exit", stopAll);

// --- inputs -----------------------------------------------------------------------------------------------
const jfkPath = path.join(sharedDir, "fixtures/audio/jfk.wav");
const jfk = fs.readFileSync(jfkPath);
const audioFile = () => OpenAI.toFile(jfk, "jfk.wav", { type: "audio/wav" });

// --- the checks -------------------------------------------------------------------------------------------
const results = [];
async function test(name, fn) {
  try {
    await fn();
    results.push([name, "ok"]);
    console.log(`ok   ${name}`);
  } catch (e) {
    results.push([name, "FAIL"]);
    console.log(`FAIL ${name}\n     ${e.stack ?? e}`);
  }
}

// An SDK call that must fail with `status`; the error body must be an OpenAI ErrorResponse.
async function expectApiError(status, fn) {
  try {
    await fn();
  } catch (e) {
    assert.equal(e.status, status, `expected ${status}, got ${e.status}: ${e.message}`);
    check("ErrorResponse", { error: e.error });
    return e.error;
  }
  assert.fail(`expected HTTP ${status}`);
}
async function fetchError(status, url, init) {
  const r = await fetch(url, init);
  assert.equal(r.status, status, await r.clone().text());
  assert.match(r.headers.get("content-type"), /application\/json/);
  const body = await r.json();
  check("ErrorResponse", body);
  return { body, headers: r.headers };
}

// `model` names the model on the audio routes (any OpenAI transcription name works there); chat needs the
// served id.
async function generalChecks(base, model) {
  const client = new OpenAI({ baseURL: base, apiKey: "unused", maxRetries: 0 });

  await test("models.list / retrieve", async () => {
    const list = await client.models.list();
    assert.ok(list.data.length >= 1);
    for (const m of list.data) check("Model", m);
    const raw = await (await fetch(`${base}/models`)).json();
    check("ListModelsResponse", raw);
    check("Model", await client.models.retrieve(list.data[0].id));
  });

  await test("transcription json", async () => {
    const r = await client.audio.transcriptions.create({ file: await audioFile(), model });
    check("CreateTranscriptionResponseJson", r);
    assert.ok(r.text.length > 0);
    assert.equal(r.usage.type, "tokens");
  });

  await test("transcription of every container OpenAI lists", async () => {
    for (const name of ["jfk.mp3", "jfk.flac", "jfk.ogg", "jfk.opus", "jfk.webm", "jfk.m4a", "jfk.mp4"]) {
      const file = await OpenAI.toFile(fs.readFileSync(path.join(sharedDir, "fixtures/audio/formats", name)), name);
      const r = await client.audio.transcriptions.create({ file, model, response_format: "verbose_json" });
      check("CreateTranscriptionResponseVerboseJson", r);
      assert.ok(Math.abs(r.duration - 11.0) < 0.1, `${name}: duration ${r.duration}`);
    }
  });

  await test("transcription json with logprobs", async () => {
    const r = await client.audio.transcriptions.create({ file: await audioFile(), model, include: ["logprobs"] });
    check("CreateTranscriptionResponseJson", r);
    assert.ok(Array.isArray(r.logprobs) && r.logprobs.length > 0);
    for (const lp of r.logprobs) check("LogProbProperties", lp);
  });

  for (const format of ["text", "srt", "vtt"]) {
    await test(`transcription ${format}`, async () => {
      const r = await client.audio.transcriptions.create({ file: await audioFile(), model, response_format: format });
      assert.equal(typeof r, "string");
      if (format === "vtt") assert.match(r, /^WEBVTT\n\n\d\d:\d\d:\d\d\.\d\d\d --> \d\d:\d\d:\d\d\.\d\d\d\n/);
      if (format === "srt") assert.match(r, /^1\n\d\d:\d\d:\d\d,\d\d\d --> \d\d:\d\d:\d\d,\d\d\d\n/);
      if (format === "text") assert.ok(r.trim().length > 0);
    });
  }

  await test("transcription verbose_json with segment timestamps", async () => {
    const r = await client.audio.transcriptions.create({
      file: await audioFile(), model, response_format: "verbose_json", timestamp_granularities: ["segment"],
      language: "en",
    });
    check("CreateTranscriptionResponseVerboseJson", r);
    assert.equal(r.language, "english");
    assert.ok(r.segments.length > 0);
    for (const s of r.segments) check("TranscriptionSegment", s);
    assert.ok(Math.abs(r.duration - 11.0) < 0.01, `duration ${r.duration}`);
  });

  await test("transcription chunking_strategy auto and server_vad", async () => {
    for (const chunking_strategy of ["auto", { type: "server_vad", threshold: 0.4, silence_duration_ms: 300 }]) {
      const r = await client.audio.transcriptions.create({ file: await audioFile(), model, chunking_strategy });
      check("CreateTranscriptionResponseJson", r);
    }
  });

  await test("transcription stream events", async () => {
    const stream = await client.audio.transcriptions.create({ file: await audioFile(), model, stream: true });
    let text = "", done = null, deltas = 0;
    for await (const event of stream) {
      if (event.type === "transcript.text.delta") {
        check("TranscriptTextDeltaEvent", event);
        text += event.delta;
        deltas++;
      } else {
        check("TranscriptTextDoneEvent", event);
        done = event;
      }
    }
    assert.ok(deltas > 1, "several deltas");
    assert.ok(done, "a done event");
    assert.equal(done.text, text, "done.text is the full text");
    assert.ok(done.usage.total_tokens > 0);
  });

  await test("translation json and verbose_json", async () => {
    const j = await client.audio.translations.create({ file: await audioFile(), model });
    check("CreateTranslationResponseJson", j);
    const v = await client.audio.translations.create({ file: await audioFile(), model, response_format: "verbose_json" });
    check("CreateTranslationResponseVerboseJson", v);
    assert.equal(v.language, "english");
    const t = await client.audio.translations.create({ file: await audioFile(), model, response_format: "srt" });
    assert.equal(typeof t, "string");
  });

  const servedId = (await client.models.list()).data[0].id;
  const chatRequest = {
    model: servedId,
    messages: [
      { role: "system", content: "You summarise recordings." },
      { role: "user", content: [
        { type: "text", text: "Summarise this call." },
        { type: "input_audio", input_audio: { data: jfk.toString("base64"), format: "wav" } },
      ] },
    ],
  };
  await test("chat completion with input_audio", async () => {
    const r = await client.chat.completions.create(chatRequest);
    check("CreateChatCompletionResponse", r);
    assert.ok(r.choices[0].message.content.length > 0);
    assert.ok(r.usage.prompt_tokens_details.audio_tokens > 0);
  });

  await test("chat completion stream with usage", async () => {
    const stream = await client.chat.completions.create({ ...chatRequest, stream: true, stream_options: { include_usage: true } });
    let text = "", finish = null, usage = null;
    for await (const chunk of stream) {
      check("CreateChatCompletionStreamResponse", chunk);
      if (chunk.choices.length) {
        text += chunk.choices[0].delta.content ?? "";
        finish = chunk.choices[0].finish_reason ?? finish;
      }
      if (chunk.usage) usage = chunk.usage;
    }
    assert.ok(text.length > 0);
    // A real model may also stop at its length limit (the random-weight tiny model never ends on its own).
    assert.ok(finish === "stop" || finish === "length", `finish_reason ${finish}`);
    check("CompletionUsage", usage);
  });

  await test("errors: 400 bad parameters, 404 model and route", async () => {
    let e = await expectApiError(400, async () =>
      client.audio.transcriptions.create({ file: await audioFile(), model, response_format: "xml" }));
    assert.equal(e.param, "response_format");
    e = await expectApiError(400, async () =>
      client.audio.transcriptions.create({ file: await audioFile(), model, timestamp_granularities: ["word"], response_format: "verbose_json" }));
    assert.equal(e.param, "timestamp_granularities");
    e = await expectApiError(400, async () =>
      client.audio.transcriptions.create({ file: await OpenAI.toFile(Buffer.from("hello, not audio"), "a.wav"), model }));
    assert.match(e.code, /^audio_/);
    await expectApiError(400, async () => client.audio.transcriptions.create({ file: await audioFile(), model, temperature: 7 }));
    await expectApiError(400, async () => client.chat.completions.create({ ...chatRequest, n: 3 }));
    e = await expectApiError(404, async () => client.audio.transcriptions.create({ file: await audioFile(), model: "no-such-model" }));
    assert.equal(e.code, "model_not_found");
    await fetchError(404, `${base}/no/such/route`);
    await fetchError(400, `${base}/audio/transcriptions`, { method: "POST", headers: { "content-type": "multipart/form-data" }, body: "x" });
    await fetchError(400, `${base}/audio/transcriptions`, { method: "POST", headers: { "content-type": "multipart/form-data; boundary=q" }, body: "--q\r\nbroken" });
  });

  await test("curl: multipart upload and text response", async () => {
    if (spawnSync("curl", ["--version"]).status !== 0) return;
    const out = execFileSync("curl", ["-sS", "-f", `${base}/audio/transcriptions`, "-F", `file=@${jfkPath}`, "-F", `model=${model}`,
      "-F", "response_format=verbose_json"]).toString();
    check("CreateTranscriptionResponseVerboseJson", JSON.parse(out));
    const err = execFileSync("curl", ["-sS", `${base}/audio/transcriptions`, "-F", `file=@${jfkPath}`]).toString();
    check("ErrorResponse", JSON.parse(err));
  });
}

async function serverFlagChecks() {
  await test("401 without or with a wrong API key; /health stays open", async () => {
    const { base } = await startServer(["--api-key", "k3y"]);
    const origin = base.replace(/\/v1$/, "");
    assert.equal((await fetch(`${origin}/health`)).status, 200);
    const bad = new OpenAI({ baseURL: base, apiKey: "wrong", maxRetries: 0 });
    const e = await expectApiError(401, () => bad.models.list());
    assert.equal(e.code, "invalid_api_key");
    await fetchError(401, `${base}/models`);
    const good = new OpenAI({ baseURL: base, apiKey: "k3y", maxRetries: 0 });
    check("CreateTranscriptionResponseJson", await good.audio.transcriptions.create({ file: await audioFile(), model: "whisper-1" }));
  });

  await test("413 over the upload limit", async () => {
    const { base } = await startServer(["--max-upload-mb", "0.1"]);
    const client = new OpenAI({ baseURL: base, apiKey: "x", maxRetries: 0 });
    const e = await expectApiError(413, async () => client.audio.transcriptions.create({ file: await audioFile(), model: "whisper-1" }));
    assert.equal(e.code, "file_too_large");
    await fetchError(413, `${base}/chat/completions`, { method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "fake-model", messages: [{ role: "user", content: "x".repeat(2 << 20) }] }) });
  });

  await test("429 with Retry-After when the queue is full", async () => {
    // The fake engine needs an artificial delay to keep the one slot busy; the real one is slow enough.
    const slow_args = path.basename(target).includes("fake") ? ["--delay-ms", "100"] : [];
    const { base } = await startServer(["--parallel", "1", "--queue", "0", ...slow_args]);
    const client = new OpenAI({ baseURL: base, apiKey: "x", maxRetries: 0 });
    const slow = client.audio.transcriptions.create({ file: await audioFile(), model: "whisper-1" });
    await new Promise((r) => setTimeout(r, 300));
    const form = new FormData();
    form.append("file", new Blob([jfk], { type: "audio/wav" }), "jfk.wav");
    form.append("model", "whisper-1");
    const { headers } = await fetchError(429, `${base}/audio/transcriptions`, { method: "POST", body: form });
    assert.ok(Number(headers.get("retry-after")) >= 1);
    check("CreateTranscriptionResponseJson", await slow);
  });

  await test("SIGTERM stops the server cleanly", async () => {
    const { child } = await startServer();
    const code = await new Promise((resolve) => { child.on("exit", (c) => resolve(c)); child.kill("SIGTERM"); });
    assert.equal(code, 0);
  });
}

try {
  if (/^https?:\/\//.test(target)) {
    await generalChecks(target, "whisper-1");
  } else {
    const { base } = await startServer();
    await generalChecks(base, "whisper-1");
    await serverFlagChecks();
  }
} finally {
  stopAll();
}
const failed = results.filter(([, s]) => s !== "ok").length;
console.log(`${results.length - failed}/${results.length} checks passed, ${validated} bodies validated against openapi.yaml`);
process.exit(failed ? 1 : 0);
