//! One request's exchange, measured into its `RequestRecord`: the send on the run's transport
//! (`open`), the response head, and the body read piece by piece through the SSE parser into the
//! record (`exchange`), or whole for the APIs that answer whole (`whole_reply`), all under the
//! per-request timeout, `--ttft-timeout` and the run's abort. `client.rs` builds the [`Target`]
//! (`target.rs`) these run on; `work.rs` calls [`Target::measure_payload`] for each arrival.
//!
//! Timestamps are taken where bytes arrive (once per socket read), before any parsing, so every
//! event gets the time of the read that completed it. Each data event is read for just what is
//! measured (`chat.rs`, `events.rs`): output text, `usage`, an in-stream `error`, the end.

use crate::measure::chat::{KeptReply, StreamState};
use crate::measure::conn::SendTimes;
use crate::measure::events;
use crate::measure::failure::{reqwest_failure, truncate, Failure};
use crate::measure::http1;
use crate::measure::record::{ErrorKind, RequestRecord};
use crate::measure::reply::{error_message, retry_after, Reply};
use crate::measure::sse::SseParser;
use crate::measure::target::{send_error, Payload, Target, Transport};
use crate::measure::time::since;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

impl Target {
    /// Sends `rec`'s sample now and fills in `rec` until the exchange ends, the per-request timeout
    /// passes or `abort` fires. Times are seconds since `level_start`.
    pub async fn measure(
        &self,
        rec: &mut RequestRecord,
        level_start: Instant,
        abort: &CancellationToken,
    ) {
        let sample = Payload::Sample(self.variant(rec.sample, rec.index));
        self.measure_payload(rec, &sample, false, level_start, abort)
            .await;
    }

    /// [`Target::measure`] with any payload; returns the reply's answer text and tool calls when
    /// `keep_reply` and the request succeeded.
    pub async fn measure_payload(
        &self,
        rec: &mut RequestRecord,
        payload: &Payload,
        keep_reply: bool,
        level_start: Instant,
        abort: &CancellationToken,
    ) -> Option<KeptReply> {
        self.note_sample(rec, payload);
        let attempt = Instant::now();
        // Set by the transport when the bytes go out; kept here, so a timeout or an abort
        // after the send still records when it was.
        let mut sent = SendTimes::default();
        let outcome = tokio::select! {
            r = self.exchange(rec, payload, keep_reply, level_start, &mut sent) => r,
            _ = tokio::time::sleep_until(attempt + self.timeout) => Err(Failure::new(
                ErrorKind::Timeout,
                format!("no complete response within {:?}", self.timeout),
            )),
            _ = abort.cancelled() => Err(Failure::new(ErrorKind::Interrupted, "run interrupted")),
        };
        // Never handed to a connection: sent when the attempt began.
        rec.sent_s = Some(since(sent.at.unwrap_or(attempt), level_start));
        // The endpoint accepting the connection this request opened (sent only).
        rec.accept_wait_s = sent
            .tcp_connect
            .filter(|_| sent.at.is_some())
            .map(|d| d.as_secs_f64())
            .filter(|&w| w >= 0.001)
            .map(crate::measure::time::round6);
        match outcome {
            Ok(reply) => reply,
            Err(f) => {
                rec.end_s = since(Instant::now(), level_start);
                rec.error = Some(f.kind);
                rec.error_detail = Some(truncate(&f.detail));
                None
            }
        }
    }

    /// Sends `sample` on the run's transport (a redirect on a fast path is handed to reqwest,
    /// which follows it). `sent` is filled in as the request goes out.
    async fn open(&self, payload: &Payload, sent: &mut SendTimes) -> Result<Reply<'_>, Failure> {
        let body = match payload {
            Payload::Sample(i) => &self.bodies[*i],
            Payload::Body(b) => b,
        };
        match &self.transport {
            Transport::Http1 { pool, requests } => {
                let built;
                let request = match payload {
                    Payload::Sample(i) => &requests[*i],
                    Payload::Body(b) => {
                        built = http1::request_bytes(
                            &self.head.target,
                            &self.head.host,
                            &self.head.headers,
                            b,
                        );
                        &built
                    }
                };
                match pool.send(request, sent).await {
                    Ok((head, body)) if !matches!(head.status, 307 | 308) => {
                        return Ok(Reply::Raw { head, body, pool })
                    }
                    Ok(_) => {}
                    Err(e) => return Err(send_error(e, &self.head.host)),
                }
            }
            // Boxed, as reqwest's below: their futures would otherwise size every request's task.
            Transport::Http2 { pool, head } => {
                match Box::pin(pool.send(head, body, &mut sent.at)).await {
                    Ok((parts, body)) if !matches!(parts.status.as_u16(), 307 | 308) => {
                        return Ok(Reply::Http2 { parts, body })
                    }
                    Ok(_) => {}
                    Err(e) => return Err(send_error(e, &self.head.host)),
                }
            }
            Transport::Reqwest => {}
        }
        let req = self
            .client
            .post(self.head.url.clone())
            .headers(self.headers.clone())
            .body(body.clone());
        if sent.at.is_none() {
            sent.at = Some(Instant::now());
        }
        Box::pin(req.send())
            .await
            .map(Reply::Reqwest)
            .map_err(|e| reqwest_failure(e, self.head.url.scheme() == "https"))
    }

    async fn exchange(
        &self,
        rec: &mut RequestRecord,
        payload: &Payload,
        keep_reply: bool,
        start: Instant,
        sent: &mut SendTimes,
    ) -> Result<Option<KeptReply>, Failure> {
        // Until the first token, every wait is also bounded by --ttft-timeout.
        let ttft_deadline = self.ttft_timeout.map(|t| Instant::now() + t);
        let ttft_failure = || {
            Failure::new(
                ErrorKind::TtftTimeout,
                format!(
                    "no output token within --ttft-timeout {:?}",
                    self.ttft_timeout.unwrap_or_default()
                ),
            )
        };
        let opened = match ttft_deadline {
            Some(d) => tokio::time::timeout_at(d, self.open(payload, sent))
                .await
                .unwrap_or_else(|_| Err(ttft_failure())),
            None => self.open(payload, sent).await,
        };
        let mut resp = opened?;
        rec.headers_s = Some(since(Instant::now(), start));
        let status = resp.status();
        rec.status = Some(status.as_u16());
        if !status.is_success() {
            let retry = retry_after(&resp);
            let detail = Box::pin(error_message(&mut resp)).await;
            return Err(Failure::new(
                ErrorKind::Http(status.as_u16()),
                format!("{detail}{retry}"),
            ));
        }
        let content_type = resp
            .header(http::header::CONTENT_TYPE)
            .unwrap_or("none")
            .to_string();
        if !self.template.api().streams() {
            return Box::pin(self.whole_reply(resp, rec, start))
                .await
                .map(|()| None);
        }
        let mut parser = SseParser::new();
        let mut stream = StreamState::of(self.template.api(), keep_reply);
        loop {
            let next = match ttft_deadline.filter(|_| rec.first_token_s.is_none()) {
                Some(d) => tokio::time::timeout_at(d, resp.next_piece())
                    .await
                    .map_err(|_| ttft_failure())?,
                None => resp.next_piece().await,
            };
            let piece = next.map_err(|e| {
                Failure::new(
                    ErrorKind::StreamInterrupted,
                    format!("body read failed: {e}"),
                )
            })?;
            let Some(piece) = piece else { break };
            let t = since(Instant::now(), start);
            parser
                .feed(&piece, |ev| events::on_event(&mut stream, ev, t, rec))
                .map_err(|e| Failure::new(ErrorKind::InvalidResponse, e.to_string()))?;
            if let Some(f) = stream.failure.take() {
                return Err(f);
            }
            if stream.done {
                rec.end_s = t;
                // Read the (normally empty) rest so the connection returns to the pool.
                let drain = async { while let Ok(Some(_)) = resp.next_piece().await {} };
                let _ = tokio::time::timeout(Duration::from_millis(200), drain).await;
                resp.finish();
                return Ok(stream.take_reply());
            }
        }
        if rec.chunks == 0 {
            return Err(Failure::new(
                ErrorKind::InvalidResponse,
                format!("2xx response with no SSE data events (content-type: {content_type})"),
            ));
        }
        Err(Failure::new(
            ErrorKind::StreamInterrupted,
            format!("stream ended before {}", stream.end_event()),
        ))
    }
}

impl Target {
    /// A reply that comes whole (embeddings, rerank): read to its end, bounded, then judged by
    /// `events::whole`; its first and last token are the time it ended.
    async fn whole_reply(
        &self,
        mut resp: Reply<'_>,
        rec: &mut RequestRecord,
        start: Instant,
    ) -> Result<(), Failure> {
        let mut body = Vec::new();
        loop {
            let piece = resp.next_piece().await.map_err(|e| {
                Failure::new(
                    ErrorKind::StreamInterrupted,
                    format!("body read failed: {e}"),
                )
            })?;
            let Some(piece) = piece else { break };
            if body.len() + piece.len() > WHOLE_REPLY_LIMIT {
                return Err(Failure::new(
                    ErrorKind::InvalidResponse,
                    format!("the reply exceeded {WHOLE_REPLY_LIMIT} bytes"),
                ));
            }
            body.extend_from_slice(&piece);
        }
        let t = since(Instant::now(), start);
        resp.finish();
        crate::measure::whole::whole(self.template.api(), &body, t, rec, self.batch)
    }
}

/// The largest whole reply read (an embeddings batch of large vectors).
const WHOLE_REPLY_LIMIT: usize = 256 << 20;
