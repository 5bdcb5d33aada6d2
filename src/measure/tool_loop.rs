//! A session's tool loop (`--tools` with `--sessions`): a reply that calls tools is answered
//! with each call's result, and the same user turn goes on with another request, as an agent
//! does, at most `--tool-rounds` times; the results stay in the history for the next turn.
//! `work.rs` runs the loop; `config/tools.rs` holds it, from the flags.

use crate::config::ToolLoop;
use crate::dataset::{Message, ToolCall};

/// The result messages for `calls`, in their order.
pub fn answer(l: &ToolLoop, calls: &[ToolCall]) -> Vec<Message> {
    calls
        .iter()
        .map(|c| Message::tool_result(c.clone(), l.result(&c.name).to_string()))
        .collect()
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
        let answered = answer(&l, &[call("a", "weather"), call("b", "other")]);
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
