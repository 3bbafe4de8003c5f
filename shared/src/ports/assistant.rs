//! The assistant: answers a question, citing sources, and says when a human should take over.
//! The knowledge base is one implementation; a hosted model can be another.

use async_trait::async_trait;

use crate::domain::{MessageRecord, Source};

/// An answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Text for the user.
    pub content: String,
    /// What it drew on.
    pub sources: Vec<Source>,
    /// Nothing fitted well, or the user asked for a person.
    pub suggest_escalation: bool,
}

/// Why no answer came (a hosted model can time out; the knowledge base cannot fail).
#[derive(Debug, thiserror::Error)]
#[error("assistant unavailable: {0}")]
pub struct AssistantError(pub String);

/// Answers questions.
#[async_trait]
pub trait Assistant: Send + Sync {
    /// Answers `question`; `history` is the conversation so far, oldest first (may be empty).
    async fn answer(&self, question: &str, history: &[MessageRecord]) -> Result<Answer, AssistantError>;
}
