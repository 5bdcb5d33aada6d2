//! What is sent, built once before the first level: one JSON body per dataset sample (the reference
//! tool's fields, usage reporting, then `--extra-body`, in the shape of `--api`), and the headers
//! every request carries (content type, user agent, the key as a bearer token, or for the
//! Anthropic API as `x-api-key` with `anthropic-version`, then the user's `--header`s). `client.rs` hands
//! them to whichever transport carries the run: serialised into complete HTTP/1.1 requests for
//! `http1.rs`, as an `http::Request` head for `http2.rs`, or to reqwest.

use crate::cli::Api;
use crate::config::Config;
use crate::dataset::{Conversation, Message, ToolPart};
use anyhow::{Context, Result};
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use http::{HeaderName, HeaderValue};

pub const USER_AGENT_VALUE: &str = concat!("redline/", env!("CARGO_PKG_VERSION"));

/// The `anthropic-version` sent unless `--header` gives one.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// Everything but the body, the same for every request of the run.
pub struct RequestHead {
    pub url: reqwest::Url,
    /// Path and query, as the request line carries them.
    pub target: String,
    /// The `Host` header (`:authority` in HTTP/2): the host, and the port when not the default.
    pub host: String,
    /// In the order sent; the authorization value is marked sensitive.
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl RequestHead {
    pub fn new(cfg: &Config) -> Result<RequestHead> {
        let url = cfg.endpoint.clone();
        let target = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        };
        let host = host_header(&url)?;
        let mut headers = vec![
            (CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE)),
        ];
        if let Some(key) = &cfg.api_key {
            let (name, value) = match cfg.api {
                Api::Anthropic => (HeaderName::from_static("x-api-key"), key.clone()),
                _ => (AUTHORIZATION, format!("Bearer {key}")),
            };
            let mut v = HeaderValue::from_str(&value).map_err(|_| {
                anyhow::anyhow!("--api-key holds characters not allowed in an HTTP header")
            })?;
            v.set_sensitive(true);
            headers.push((name, v));
        }
        let version = HeaderName::from_static("anthropic-version");
        if cfg.api == Api::Anthropic && !cfg.headers.iter().any(|h| h.name == version) {
            // The version the Messages API's streaming events follow; --header
            // "anthropic-version: ..." sets another.
            headers.push((version, HeaderValue::from_static(ANTHROPIC_VERSION)));
        }
        // Validated and marked sensitive by `config`.
        headers.extend(
            cfg.headers
                .iter()
                .map(|h| (h.name.clone(), h.value.clone())),
        );
        Ok(RequestHead {
            url,
            target,
            host,
            headers,
        })
    }

    /// The headers as a map, for reqwest.
    pub fn header_map(&self) -> http::HeaderMap {
        self.headers.iter().cloned().collect()
    }

    /// The HTTP/2 request head: method, full URI and headers (no connection-specific ones).
    pub fn http2(&self) -> Result<http::Request<()>> {
        let mut req = http::Request::builder()
            .method(http::Method::POST)
            .uri(self.url.as_str())
            .body(())
            .context("the endpoint is not a valid HTTP/2 request URI")?;
        req.headers_mut().extend(self.headers.iter().cloned());
        Ok(req)
    }
}

/// What every request body shares: the model, sampling settings, usage reporting,
/// `ignore_eos` when it is sent, and `--extra-body`.
#[derive(Debug, Clone)]
pub struct BodyTemplate {
    api: Api,
    model: String,
    max_tokens: u32,
    /// None: `--temperature none`, left out of every body.
    temperature: Option<f64>,
    stream_usage: bool,
    ignore_eos: bool,
    extra: Option<serde_json::Map<String, serde_json::Value>>,
    /// `--tools`, already in the API's shape.
    tools: Option<serde_json::Value>,
}

impl BodyTemplate {
    /// The run's body settings; `ignore_eos` as decided for this endpoint (`--ignore-eos`).
    pub fn new(cfg: &Config, ignore_eos: bool) -> Self {
        BodyTemplate {
            api: cfg.api,
            model: cfg.model.clone(),
            max_tokens: cfg.max_tokens,
            temperature: cfg.temperature,
            stream_usage: cfg.stream_usage,
            ignore_eos,
            extra: cfg.extra_body.clone(),
            tools: cfg.tools.as_deref().map(|t| tools_for(cfg.api, t)),
        }
    }

    /// The API the bodies are shaped for.
    pub fn api(&self) -> Api {
        self.api
    }

    pub fn set_ignore_eos(&mut self, on: bool) {
        self.ignore_eos = on;
    }

    /// Whether bodies carry `"ignore_eos": true`.
    pub fn ignore_eos(&self) -> bool {
        self.ignore_eos
    }

    /// The JSON body for `messages`: the reference's fields, usage reporting, `ignore_eos`, then
    /// --extra-body. `max_tokens` is the sample's own reply length when it has one (synthetic
    /// prompts, traces), else `--max-tokens`. With `--api completions` the conversation is one
    /// `prompt`: its messages' contents, in order, separated by blank lines.
    pub fn build(&self, messages: &[Message], max_tokens: Option<u32>) -> Bytes {
        self.build_as(messages, max_tokens, None)
    }

    /// [`BodyTemplate::build`] naming `adapter` (`--lora`) as the model, when given.
    pub fn build_as(
        &self,
        messages: &[Message],
        max_tokens: Option<u32>,
        adapter: Option<&str>,
    ) -> Bytes {
        let max_tokens = max_tokens.unwrap_or(self.max_tokens);
        let model = adapter.unwrap_or(&self.model);
        let mut body = match self.api {
            Api::Chat => serde_json::json!({
                "model": model,
                "messages": messages,
                "max_tokens": max_tokens,
                "temperature": self.temperature,
                "stream": true,
            }),
            Api::Completions => serde_json::json!({
                "model": model,
                "prompt": text(messages),
                "max_tokens": max_tokens,
                "temperature": self.temperature,
                "stream": true,
            }),
            // The conversation as `input` message items (typed: llama.cpp's server requires the
            // type that OpenAI's infers); usage comes in `response.completed`.
            Api::Responses => serde_json::json!({
                "model": model,
                "input": messages.iter().flat_map(responses_items).collect::<Vec<_>>(),
                "max_output_tokens": max_tokens,
                "temperature": self.temperature,
                "stream": true,
            }),
            Api::Anthropic => anthropic(model, messages, max_tokens, self.temperature),
            // One input: the conversation's text (a batch is built by `batch`).
            Api::Embeddings => embeddings(model, vec![text(messages)]),
            // Its question, and its text as the one document (a batch is built by `batch`).
            Api::Rerank => rerank(model, query(messages), vec![text(messages)]),
        };
        let obj = body.as_object_mut().expect("json! object literal");
        if self.temperature.is_none() {
            obj.remove("temperature");
        }
        // Only chat and completions report usage on request; the others always do.
        if self.stream_usage && matches!(self.api, Api::Chat | Api::Completions) {
            obj.insert(
                "stream_options".into(),
                serde_json::json!({"include_usage": true}),
            );
        }
        if self.ignore_eos {
            obj.insert("ignore_eos".into(), true.into());
        }
        if let Some(tools) = &self.tools {
            obj.insert("tools".into(), tools.clone());
        }
        if let Some(extra) = &self.extra {
            for (k, v) in extra {
                obj.insert(k.clone(), v.clone());
            }
        }
        // Serialising a `Value` cannot fail: its map keys are strings.
        Bytes::from(serde_json::to_vec(&body).unwrap_or_default())
    }

    /// A batched request for sample `i`, with `--extra-body`: for embeddings, `batch` inputs
    /// (sample `i`'s text and the next samples', wrapping around); for rerank, sample `i`'s last
    /// user message as the query and the next `batch` samples' texts as the documents.
    pub fn batch(&self, convs: &[Conversation], i: usize, batch: usize) -> Bytes {
        let texts = |from: usize| -> Vec<String> {
            (0..batch)
                .filter_map(|k| convs.get((from + k) % convs.len().max(1)))
                .map(|c| text(&c.messages))
                .collect()
        };
        let mut body = match self.api {
            Api::Rerank => {
                let q = convs.get(i).map(|c| query(&c.messages)).unwrap_or_default();
                rerank(&self.model, q, texts(i + 1))
            }
            _ => embeddings(&self.model, texts(i)),
        };
        if let (Some(extra), Some(obj)) = (&self.extra, body.as_object_mut()) {
            for (k, v) in extra {
                obj.insert(k.clone(), v.clone());
            }
        }
        Bytes::from(serde_json::to_vec(&body).unwrap_or_default())
    }

    /// The body of a dataset sample.
    pub fn sample(&self, conv: &Conversation, adapter: Option<&str>) -> Bytes {
        self.build_as(
            &conv.messages,
            conv.lengths.map(|l| l.output_tokens),
            adapter,
        )
    }
}

/// OpenAI function tools in `api`'s shape: as given for chat; flattened (`type`, `name`,
/// `description`, `parameters`) for the Responses API; `name`, `description` and `input_schema`
/// for Anthropic's.
fn tools_for(api: Api, tools: &[serde_json::Value]) -> serde_json::Value {
    let f = |t: &serde_json::Value, k: &str| t.pointer(&format!("/function/{k}")).cloned();
    let empty = || serde_json::json!({"type": "object", "properties": {}});
    let shaped: Vec<serde_json::Value> = tools
        .iter()
        .map(|t| match api {
            Api::Responses => serde_json::json!({
                "type": "function",
                "name": f(t, "name"),
                "description": f(t, "description"),
                "parameters": f(t, "parameters").unwrap_or_else(empty),
            }),
            Api::Anthropic => serde_json::json!({
                "name": f(t, "name"),
                "description": f(t, "description").unwrap_or_else(|| "".into()),
                "input_schema": f(t, "parameters").unwrap_or_else(empty),
            }),
            Api::Chat | Api::Completions | Api::Embeddings | Api::Rerank => t.clone(),
        })
        .collect();
    shaped.into()
}

/// An embeddings body: the `inputs`, as floats.
fn embeddings(model: &str, inputs: Vec<String>) -> serde_json::Value {
    serde_json::json!({"model": model, "input": inputs, "encoding_format": "float"})
}

/// A rerank body (Jina's and Cohere's shape, which vLLM and llama.cpp's server take): every
/// document scored, none echoed back.
fn rerank(model: &str, query: String, documents: Vec<String>) -> serde_json::Value {
    serde_json::json!({"model": model, "query": query, "documents": documents, "return_documents": false})
}

/// A rerank query: the conversation's last user message (its whole text when it has none).
fn query(messages: &[Message]) -> String {
    match messages.iter().rev().find(|m| m.role == "user") {
        Some(m) => m.content.clone(),
        None => text(messages),
    }
}

/// A conversation's text: its messages' contents, in order, separated by blank lines.
fn text(messages: &[Message]) -> String {
    messages
        .iter()
        .map(|m| m.content.as_str())
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// An Anthropic Messages body: system messages joined into `system`, the others as `messages`.
fn anthropic(
    model: &str,
    messages: &[Message],
    max_tokens: u32,
    temperature: Option<f64>,
) -> serde_json::Value {
    let system: Vec<&str> = messages
        .iter()
        .filter(|m| m.role == "system")
        .map(|m| m.content.as_str())
        .collect();
    let turns: Vec<serde_json::Value> = messages
        .iter()
        .filter(|m| m.role != "system")
        .map(anthropic_message)
        .collect();
    let mut body = serde_json::json!({
        "model": model,
        "messages": turns,
        "max_tokens": max_tokens,
        "temperature": temperature,
        "stream": true,
    });
    if !system.is_empty() {
        body["system"] = system.join("\n\n").into();
    }
    body
}

/// A message as the Responses API's input items: a message; an assistant's calls as
/// `function_call` items after its text; a tool's result as a `function_call_output`.
fn responses_items(m: &Message) -> Vec<serde_json::Value> {
    let message = || {
        if m.images.is_empty() {
            return serde_json::json!({"type": "message", "role": m.role, "content": m.content});
        }
        let mut parts = vec![serde_json::json!({"type": "input_text", "text": m.content})];
        parts.extend(
            m.images
                .iter()
                .map(|i| serde_json::json!({"type": "input_image", "image_url": i.data_uri()})),
        );
        serde_json::json!({"type": "message", "role": m.role, "content": parts})
    };
    match m.tool.as_deref() {
        None => vec![message()],
        Some(ToolPart::Calls(calls)) => {
            let text = (!m.content.is_empty()).then(message);
            text.into_iter()
                .chain(calls.iter().map(|c| {
                    serde_json::json!({"type": "function_call", "call_id": c.id,
                        "name": c.name, "arguments": c.arguments})
                }))
                .collect()
        }
        Some(ToolPart::Result(c)) => vec![serde_json::json!({
            "type": "function_call_output", "call_id": c.id, "output": m.content})],
    }
}

/// A message as Anthropic's: an assistant's calls as `tool_use` blocks after its text (their
/// arguments as the JSON `input`); a tool's result as a user's `tool_result` block.
fn anthropic_message(m: &Message) -> serde_json::Value {
    match m.tool.as_deref() {
        None if !m.images.is_empty() => {
            // Images first, as Anthropic advises, then the text.
            let mut blocks: Vec<serde_json::Value> = m
                .images
                .iter()
                .map(|i| match &i.url {
                    Some(u) => {
                        serde_json::json!({"type": "image", "source": {"type": "url", "url": &**u}})
                    }
                    None => serde_json::json!({"type": "image", "source": {"type": "base64",
                        "media_type": i.media_type, "data": &*i.base64}}),
                })
                .collect();
            blocks.push(serde_json::json!({"type": "text", "text": m.content}));
            serde_json::json!({"role": m.role, "content": blocks})
        }
        None => serde_json::json!({"role": m.role, "content": m.content}),
        Some(ToolPart::Calls(calls)) => {
            let text = (!m.content.is_empty())
                .then(|| serde_json::json!({"type": "text", "text": m.content}));
            let blocks: Vec<serde_json::Value> = text
                .into_iter()
                .chain(calls.iter().map(|c| {
                    let input: serde_json::Value =
                        serde_json::from_str(&c.arguments).unwrap_or_else(|_| serde_json::json!({}));
                    serde_json::json!({"type": "tool_use", "id": c.id, "name": c.name, "input": input})
                }))
                .collect();
            serde_json::json!({"role": "assistant", "content": blocks})
        }
        Some(ToolPart::Result(c)) => serde_json::json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": c.id, "content": m.content}]}),
    }
}

/// The `Host` header: the host, and the port when it is not the scheme's default.
fn host_header(url: &reqwest::Url) -> Result<String> {
    let host = url.host_str().unwrap_or("localhost");
    let text = match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    };
    HeaderValue::from_str(&text).context("the endpoint's host is not a valid Host header")?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::ToolCall;
    use serde_json::json;

    /// An assistant's call and its result, as a session's history holds them.
    fn loop_turn() -> (Message, Message) {
        let call = ToolCall {
            id: "c1".into(),
            name: "get_weather".into(),
            arguments: r#"{"city":"Paris"}"#.into(),
        };
        let asked = Message::assistant(String::new(), vec![call.clone()]);
        (asked, Message::tool_result(call, "sunny".into()))
    }

    #[test]
    fn a_call_and_its_result_take_each_apis_shape() {
        let (asked, result) = loop_turn();
        assert_eq!(
            serde_json::to_value([&asked, &result]).unwrap(),
            json!([
                {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "sunny"}
            ])
        );
        assert_eq!(
            [responses_items(&asked), responses_items(&result)].concat(),
            vec![
                json!({"type": "function_call", "call_id": "c1", "name": "get_weather",
                    "arguments": "{\"city\":\"Paris\"}"}),
                json!({"type": "function_call_output", "call_id": "c1", "output": "sunny"}),
            ]
        );
        assert_eq!(
            anthropic_message(&asked),
            json!({"role": "assistant", "content": [{"type": "tool_use", "id": "c1",
                "name": "get_weather", "input": {"city": "Paris"}}]})
        );
        assert_eq!(
            anthropic_message(&result),
            json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": "c1",
                "content": "sunny"}]})
        );
        // A plain message is as before.
        let plain = Message::new("user", "hi");
        assert_eq!(
            serde_json::to_value(&plain).unwrap(),
            json!({"role": "user", "content": "hi"})
        );
    }
}
