//! A session's tool loop (`--tools` with `--sessions`): a reply that calls tools is answered
//! with each call's result, and the same user turn goes on with another request, as an agent
//! does, at most `--tool-rounds` times; the results stay in the history for the next turn.
//! `work.rs` runs the loop; `config/tools.rs` builds it from the flags.

use crate::dataset::{Message, ToolCall};

#[derive(Debug, Clone, PartialEq)]
pub struct ToolLoop {
    /// The most requests a user turn sends after its first, each with the previous calls'
    /// results.
    pub rounds: u32,
    /// Results by tool name (a tool's `result` in the `--tools` file).
    pub results: std::collections::BTreeMap<String, String>,
    /// Every other tool's result (`--tool-result`).
    pub default_result: String,
}

impl ToolLoop {
    /// The result messages for `calls`, in their order.
    pub fn answer(&self, calls: &[ToolCall]) -> Vec<Message> {
        calls
            .iter()
            .map(|c| {
                let result = self.results.get(&c.name).unwrap_or(&self.default_result);
                Message::tool_result(c.clone(), result.clone())
            })
            .collect()
    }

    /// Requests per user turn at most: its first and one per round.
    pub fn slots(&self) -> u64 {
        1 + u64::from(self.rounds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::ToolPart;

    #[test]
    fn each_call_gets_its_tools_result_or_the_default() {
        let l = ToolLoop {
            rounds: 2,
            results: [("weather".to_string(), "sunny".to_string())].into(),
            default_result: "ok".into(),
        };
        let call = |id: &str, name: &str| ToolCall {
            id: id.into(),
            name: name.into(),
            arguments: "{}".into(),
        };
        let answered = l.answer(&[call("a", "weather"), call("b", "other")]);
        assert_eq!(answered.len(), 2);
        assert_eq!(
            (answered[0].role, answered[0].content.as_str()),
            ("tool", "sunny")
        );
        assert_eq!(answered[1].content, "ok");
        assert_eq!(
            answered[1].tool.as_deref(),
            Some(&ToolPart::Result(call("b", "other")))
        );
        assert_eq!(l.slots(), 3);
    }
}
