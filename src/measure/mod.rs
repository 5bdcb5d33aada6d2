//! The measuring stage: a planned send in, a `RequestRecord` out.
//!
//! `schedule` fixes each level's arrival offsets before it starts; `runner` fires each request at
//! its absolute deadline (open loop; `closed` is the closed loop of `--concurrency`) on the run's
//! `target::Target`, built by `client`. `exchange` sends what `request` built over the run's
//! transport (`http1`: the hand-written HTTP/1.1 path with its `pool` of connections, `http2`: the
//! HTTP/2 pool, both on `conn` connections with `tls`; or reqwest), reads the reply through
//! `reply`, splits the body into
//! SSE events (`sse`) and reads each as a chat-completion event (`chat`, or another API's:
//! `events`) into the request's `record`; a reply that comes whole (embeddings, rerank) is read by
//! `whole`. `failure` names every way an exchange fails (`error_kind`: the names a record keeps); `time` is the clock every record uses.
//! Nothing here summarises or prints: `analyze/` reads the records, `output/` shows them.

pub mod chat;
pub mod checked;
pub mod client;
pub mod closed;
pub mod conn;
pub mod error_kind;
pub mod events;
pub mod exchange;
pub mod failure;
pub mod http1;
pub mod http2;
pub mod media;
pub mod pick;
pub mod pool;
pub mod prometheus;
pub mod record;
pub mod reply;
pub mod request;
pub mod runner;
pub mod schedule;
pub mod scrape;
pub mod sse;
pub mod target;
pub mod time;
pub mod tls;
pub mod tokens_check;
pub mod tool_loop;
pub mod whole;
pub mod work;
