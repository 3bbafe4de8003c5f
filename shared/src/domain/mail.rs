//! The ticket and password-reset mails, built with `lettre`: text and HTML parts, user text escaped in HTML and
//! never able to add a header (header values are stripped of control characters before
//! `lettre` encodes them).

use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};

use chrono::{DateTime, Utc};

use crate::domain::{MailRecord, Rating, Recipient, ReplyAddresses, SupportTicket};

/// Addresses the mails use.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// Sender (a verified SES identity), e.g. `Support <support@example.com>`.
    pub from: Mailbox,
    /// Where support mails go.
    pub support: Mailbox,
    /// Reply addresses for ticket mails, when inbound mail is set up: replies by support and by
    /// the user then come back into the conversation.
    pub replies: Option<ReplyAddresses>,
    /// The web client's address, linked from the mails to the user.
    pub web_client: Option<String>,
}

impl MailSettings {
    /// The `Reply-To` of a ticket's mails: its reply address, if inbound mail is set up.
    fn reply_to(&self, ticket: &SupportTicket) -> Result<Option<Mailbox>, BuildError> {
        self.replies
            .as_ref()
            .map(|r| r.for_ticket(&ticket.id).parse().map_err(|e| BuildError(format!("reply address: {e}"))))
            .transpose()
    }
}

/// A mail could not be built (an address did not parse).
#[derive(Debug, thiserror::Error)]
#[error("mail not built: {0}")]
pub struct BuildError(String);

/// Header text from user input: control characters (CR, LF, tab, ...) become spaces.
pub fn header_safe(text: &str) -> String {
    let cleaned: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    cleaned.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The body every mail has: the same message as plain text and as HTML.
fn text_and_html(text: String, html: String) -> MultiPart {
    MultiPart::alternative()
        .singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(text))
        .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(html))
}

fn escape(text: &str) -> String {
    html_escape::encode_text(text).replace('\n', "<br>\n")
}

/// What the escalation's mails say beyond the ticket.
#[derive(Debug, Clone, Copy, Default)]
pub struct About<'a> {
    /// The user's display name, if they gave one.
    pub user_name: Option<&'a str>,
    /// The web client's address, linked from the user's mail.
    pub web_client: Option<&'a str>,
}

/// The escalation's mail to `recipient`: the envelope recipient and the MIME bytes. Support's
/// leads with who asks (their name and address), the subject and their own description, then a
/// compact transcript (the assistant's answers shortened, with the articles they cited); the
/// user's greets them by name, repeats what they wrote, promises an answer without depending on
/// the priority they picked, and links to the web client.
pub fn build(
    settings: &MailSettings,
    ticket: &SupportTicket,
    recipient: Recipient,
    about: &About<'_>,
) -> Result<(String, Vec<u8>), BuildError> {
    let subject = header_safe(&format!("[{}] {}", ticket.number, ticket.subject));
    let user = user_mailbox(ticket)?;
    let name = about.user_name.map(str::trim).filter(|n| !n.is_empty());
    let (to, reply_to, text, html) = match recipient {
        Recipient::Support => {
            let (text, html) = support_body(ticket, name);
            // Support's answer comes back into the conversation when inbound mail is set up;
            // else it goes straight to the user.
            (settings.support.clone(), Some(settings.reply_to(ticket)?.unwrap_or(user)), text, html)
        }
        Recipient::User => {
            let (text, html) = user_body(ticket, name, about.web_client);
            (user, settings.reply_to(ticket)?, text, html)
        }
    };
    let envelope_to = to.email.to_string();
    let mut builder = Message::builder()
        .from(settings.from.clone())
        .to(to)
        .subject(subject)
        .message_id(Some(thread_root(ticket, recipient)));
    if let Some(reply_to) = reply_to {
        builder = builder.reply_to(reply_to);
    }
    let message = builder.multipart(text_and_html(text, html)).map_err(|e| BuildError(e.to_string()))?;
    Ok((envelope_to, message.formatted()))
}

/// An assistant answer in the support mail: its first sentences, up to this many characters.
const ANSWER_PREVIEW_CHARS: usize = 240;

/// `text` cut to `max` characters at a word boundary, with `…` when cut.
fn preview(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max).collect();
    let cut = cut.rsplit_once(char::is_whitespace).map_or(cut.as_str(), |(head, _)| head);
    format!("{}\u{2026}", cut.trim_end())
}

/// Support's mail: who asks and what, then the conversation, compact.
fn support_body(ticket: &SupportTicket, name: Option<&str>) -> (String, String) {
    let who = name.map_or_else(|| ticket.user_email.clone(), |n| format!("{n} <{}>", ticket.user_email));
    let description = if ticket.description.trim().is_empty() {
        "(No description: the conversation below is the request.)"
    } else {
        &ticket.description
    };
    let mut text = format!(
        "{who} asks for help: {subject}\n\n{description}\n\nTicket {number}, priority {priority} (their choice).\n\n\
         The conversation (the assistant's answers shortened):\n",
        subject = ticket.subject,
        number = ticket.number,
        priority = ticket.priority.as_str(),
    );
    let mut html = format!(
        "<p><b>{who}</b> asks for help: <b>{subject}</b></p>\n<blockquote>{description}</blockquote>\n\
         <p>Ticket {number}, priority {priority} (their choice).</p>\n\
         <h2>The conversation</h2>\n<p><small>The assistant's answers shortened.</small></p>\n",
        who = escape(&who),
        subject = escape(&ticket.subject),
        description = escape(description),
        number = escape(&ticket.number),
        priority = ticket.priority.as_str(),
    );
    for line in &ticket.transcript {
        let (speaker, content) = match line.role.as_str() {
            "user" => (name.unwrap_or("User").to_owned(), line.content.clone()),
            "assistant" => ("Assistant".to_owned(), preview(&line.content, ANSWER_PREVIEW_CHARS)),
            other => (other.to_owned(), line.content.clone()),
        };
        let titles: Vec<&str> = line.sources.iter().map(|s| s.title.as_str()).collect();
        text.push_str(&format!("- {speaker}: {content}\n"));
        html.push_str(&format!("<p><b>{}</b>: {}", escape(&speaker), escape(&content)));
        if !titles.is_empty() {
            text.push_str(&format!("  (sources: {})\n", titles.join("; ")));
            html.push_str(&format!("<br>\n<small>Sources: {}</small>", escape(&titles.join("; "))));
        }
        html.push_str("</p>\n");
    }
    text.push_str(&format!("\nUser id: {}\n", ticket.user_id.as_str()));
    html.push_str(&format!("<p><small>User id: {}</small></p>\n", escape(ticket.user_id.as_str())));
    (text, html)
}

/// The user's mail: by name, what they wrote, what happens next, where to follow it.
fn user_body(ticket: &SupportTicket, name: Option<&str>, web_client: Option<&str>) -> (String, String) {
    let hello = name.map_or_else(|| "Hello,".to_owned(), |n| format!("Hello {n},"));
    let mut text = format!(
        "{hello}\n\nwe have opened support ticket {number} about \u{201c}{subject}\u{201d}.\n\n",
        number = ticket.number,
        subject = ticket.subject,
    );
    let mut html = format!(
        "<p>{hello}</p>\n<p>we have opened support ticket <b>{number}</b> about \u{201c}{subject}\u{201d}.</p>\n",
        hello = escape(&hello),
        number = escape(&ticket.number),
        subject = escape(&ticket.subject),
    );
    if !ticket.description.trim().is_empty() {
        text.push_str(&format!("What you told us:\n{}\n\n", ticket.description));
        html.push_str(&format!(
            "<p>What you told us:</p>\n<blockquote>{}</blockquote>\n",
            escape(&ticket.description)
        ));
    }
    let next = format!(
        "Our support team has your conversation and will answer you by mail, usually within one \
         business day. Reply to this mail to add anything; mention {} whenever you write to us about it.",
        ticket.number
    );
    text.push_str(&format!("{next}\n\n"));
    html.push_str(&format!("<p>{}</p>\n", escape(&next)));
    if let Some(url) = web_client.map(|u| u.trim_end_matches('/')) {
        text.push_str(&format!("Your tickets and their status: {url}/\n\n"));
        html.push_str(&format!(
            "<p><a href=\"{}/\">Your tickets and their status</a></p>\n",
            html_escape::encode_double_quoted_attribute(url)
        ));
    }
    text.push_str("The support team\n");
    html.push_str("<p>The support team</p>\n");
    (text, html)
}

/// The `Message-ID` of a ticket's first mail to `recipient`, which later mails reply to.
fn thread_root(ticket: &SupportTicket, recipient: Recipient) -> String {
    let sent = match recipient {
        Recipient::Support => &ticket.message_id_support,
        Recipient::User => &ticket.message_id_user,
    };
    // The id the recipient saw: the mail service's once it replaced ours, else ours.
    sent.clone().unwrap_or_else(|| format!("<{}.{}@support-backend>", ticket.id, recipient.as_str()))
}

/// What a later mail to support in a ticket's thread says.
#[derive(Debug, Clone, Copy)]
pub enum Followup<'a> {
    /// The user wrote in the conversation while a person handles it.
    UserMessage {
        /// Their name (or address).
        author: &'a str,
        /// What they wrote.
        content: &'a str,
    },
    /// The user marked the ticket resolved.
    Resolved,
    /// The user rated the help.
    Rated(&'a Rating),
}

impl Followup<'_> {
    /// A short name for the mail's id (`message`, `resolved`, `rated`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::UserMessage { .. } => "message",
            Self::Resolved => "resolved",
            Self::Rated(_) => "rated",
        }
    }
}

/// A later mail to support about `ticket`, threaded under its first support mail (same
/// subject with `Re:`, `In-Reply-To` and `References` naming it): the envelope recipient and
/// the MIME bytes. `mail_id` makes its own `Message-ID`.
pub fn build_followup(
    settings: &MailSettings,
    ticket: &SupportTicket,
    mail_id: &str,
    followup: Followup<'_>,
) -> Result<(String, Vec<u8>), BuildError> {
    let user = user_mailbox(ticket)?;
    let (text, html) = match followup {
        Followup::UserMessage { author, content } => (
            format!("{author} wrote in the conversation of ticket {}:\n\n{content}\n", ticket.number),
            format!(
                "<p>{} wrote in the conversation of ticket {}:</p>\n<blockquote>{}</blockquote>\n",
                escape(author),
                escape(&ticket.number),
                escape(content)
            ),
        ),
        Followup::Resolved => (
            format!("The user marked ticket {} as resolved.\n", ticket.number),
            format!("<p>The user marked ticket {} as resolved.</p>\n", escape(&ticket.number)),
        ),
        Followup::Rated(rating) => {
            let comment = if rating.comment.is_empty() { "(no comment)" } else { &rating.comment };
            (
                format!(
                    "The user rated the help with ticket {}: {}.\n\n{comment}\n",
                    ticket.number,
                    rating.score.as_str()
                ),
                format!(
                    "<p>The user rated the help with ticket {}: <b>{}</b>.</p>\n<blockquote>{}</blockquote>\n",
                    escape(&ticket.number),
                    rating.score.as_str(),
                    escape(comment)
                ),
            )
        }
    };
    let reply_to = settings.reply_to(ticket)?.unwrap_or(user);
    in_thread(
        settings,
        ticket,
        mail_id,
        Recipient::Support,
        settings.support.clone(),
        Some(reply_to),
        (text, html),
    )
}

/// A later mail to support in `ticket`'s thread, queued, named after the change that made it.
pub fn followup_mail(
    settings: &MailSettings,
    ticket: &SupportTicket,
    followup: Followup<'_>,
    now: DateTime<Utc>,
) -> Result<MailRecord, BuildError> {
    let mail_id = format!("{}-{}-support", followup.kind(), ticket.revision);
    let mail = build_followup(settings, ticket, &mail_id, followup)?;
    Ok(MailRecord::queued(&ticket.id, mail_id, Recipient::Support, mail, now))
}

/// A support agent's reply, mailed to the ticket's owner because no socket of theirs was live:
/// threaded under the user's first ticket mail, with a link to the conversation when the web
/// client's address is known.
pub fn build_agent_reply(
    settings: &MailSettings,
    ticket: &SupportTicket,
    mail_id: &str,
    author: &str,
    content: &str,
) -> Result<(String, Vec<u8>), BuildError> {
    let user = user_mailbox(ticket)?;
    let open = settings.web_client.as_deref().map_or_else(
        || ("Reply to this mail to answer.".to_owned(), "<p>Reply to this mail to answer.</p>".to_owned()),
        |l| {
            (
                format!("Reply to this mail, or continue the conversation here: {l}"),
                format!(
                    "<p>Reply to this mail, or <a href=\"{}\">continue the conversation</a>.</p>",
                    html_escape::encode_double_quoted_attribute(l)
                ),
            )
        },
    );
    let text = format!(
        "{author} from the support team answered about ticket {number}:\n\n{content}\n\n{}\n",
        open.0,
        number = ticket.number
    );
    let html = format!(
        "<p>{} from the support team answered about ticket {}:</p>\n<blockquote>{}</blockquote>\n{}\n",
        escape(author),
        escape(&ticket.number),
        escape(content),
        open.1
    );
    in_thread(settings, ticket, mail_id, Recipient::User, user, settings.reply_to(ticket)?, (text, html))
}

fn user_mailbox(ticket: &SupportTicket) -> Result<Mailbox, BuildError> {
    ticket.user_email.parse().map_err(|e| BuildError(format!("user address: {e}")))
}

/// A later mail of a ticket to `to`, threaded under the ticket's first mail to `root` (same
/// subject with `Re:`, `In-Reply-To` and `References` naming it), with its own `Message-ID`
/// from `mail_id`: the envelope recipient and the MIME bytes.
fn in_thread(
    settings: &MailSettings,
    ticket: &SupportTicket,
    mail_id: &str,
    root: Recipient,
    to: Mailbox,
    reply_to: Option<Mailbox>,
    (text, html): (String, String),
) -> Result<(String, Vec<u8>), BuildError> {
    let root = thread_root(ticket, root);
    let envelope_to = to.email.to_string();
    let mut builder = Message::builder()
        .from(settings.from.clone())
        .to(to)
        .subject(header_safe(&format!("Re: [{}] {}", ticket.number, ticket.subject)))
        .message_id(Some(format!("<{}.{}@support-backend>", ticket.id, header_safe(mail_id))))
        .in_reply_to(root.clone())
        .references(root);
    if let Some(reply_to) = reply_to {
        builder = builder.reply_to(reply_to);
    }
    let message = builder.multipart(text_and_html(text, html)).map_err(|e| BuildError(e.to_string()))?;
    Ok((envelope_to, message.formatted()))
}

/// The password-reset mail to `to`, with the one-time `link`: the envelope recipient and the
/// MIME bytes. The link is the only place the token appears.
pub fn build_reset(
    from: &Mailbox,
    to: &str,
    link: &str,
    valid_minutes: i64,
) -> Result<(String, Vec<u8>), BuildError> {
    let text = format!(
        "Hello,\n\nsomeone (hopefully you) asked to reset the password of the account for this address.\n\n\
         Choose a new password here (the link works once, for {valid_minutes} minutes):\n{link}\n\n\
         Resetting signs out every device signed in to the account. If you did not ask for this, \
         ignore this mail: your password stays as it is.\n\nThe support team\n"
    );
    let html = format!(
        "<p>Hello,</p>\n<p>someone (hopefully you) asked to reset the password of the account for this \
         address.</p>\n<p><a href=\"{href}\">Choose a new password</a> (the link works once, for \
         {valid_minutes} minutes).</p>\n<p>Resetting signs out every device signed in to the account. If you \
         did not ask for this, ignore this mail: your password stays as it is.</p>\n<p>The support team</p>\n",
        href = html_escape::encode_double_quoted_attribute(link),
    );
    link_mail(from, to, "Reset your password", text, html)
}

/// The address-verification mail: a link that proves the user receives mail here.
pub fn build_verify(
    from: &Mailbox,
    to: &str,
    link: &str,
    valid_minutes: i64,
) -> Result<(String, Vec<u8>), BuildError> {
    let valid_for = if valid_minutes % 60 == 0 {
        format!("{} hours", valid_minutes / 60)
    } else {
        format!("{valid_minutes} minutes")
    };
    let text = format!(
        "Hello,\n\nplease confirm that this is your email address by opening this link (it works once, \
         for {valid_for}):\n{link}\n\nUntil you do, we cannot send you mail about support \
         requests. If you did not create an account, ignore this mail.\n\nThe support team\n"
    );
    let html = format!(
        "<p>Hello,</p>\n<p>please <a href=\"{href}\">confirm that this is your email address</a> (the link \
         works once, for {valid_for}).</p>\n<p>Until you do, we cannot send you mail about support \
         requests. If you did not create an account, ignore this mail.</p>\n<p>The support team</p>\n",
        href = html_escape::encode_double_quoted_attribute(link),
    );
    link_mail(from, to, "Confirm your email address", text, html)
}

/// A mail carrying one link, to the user alone: `(envelope recipient, MIME bytes)`.
fn link_mail(
    from: &Mailbox,
    to: &str,
    subject: &str,
    text: String,
    html: String,
) -> Result<(String, Vec<u8>), BuildError> {
    let to: Mailbox = to.parse().map_err(|e| BuildError(format!("user address: {e}")))?;
    let envelope_to = to.email.to_string();
    let message = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(subject)
        .multipart(text_and_html(text, html))
        .map_err(|e| BuildError(e.to_string()))?;
    Ok((envelope_to, message.formatted()))
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::domain::UserId;
    use crate::domain::{MailStatus, Priority, TranscriptLine};

    fn ticket(subject: &str) -> SupportTicket {
        SupportTicket {
            id: "tkt_1".into(),
            number: "AB-20260109-0004".into(),
            user_id: UserId::from_trusted("usr_1"),
            user_email: "ada@example.com".into(),
            conversation_id: "conv_1".into(),
            subject: subject.into(),
            description: "It <b>broke</b>\nagain".into(),
            priority: Priority::High,
            status: crate::domain::TicketStatus::Open,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            resolved_at: None,
            rating: None,
            revision: 0,
            transcript: vec![TranscriptLine {
                role: "user".into(),
                content: "<script>alert(1)</script>".into(),
                created_at: "2026-01-09T10:00:00Z".into(),
                sources: Vec::new(),
            }],
            mail_support: MailStatus::Queued,
            mail_user: MailStatus::Queued,
            message_id_support: None,
            message_id_user: None,
        }
    }

    fn settings() -> MailSettings {
        MailSettings {
            from: "Support <support@example.com>".parse().unwrap(),
            support: "help@example.com".parse().unwrap(),
            replies: None,
            web_client: None,
        }
    }

    fn headers(raw: &[u8]) -> String {
        let text = String::from_utf8_lossy(raw);
        text.split("\r\n\r\n").next().unwrap().to_owned()
    }

    #[test]
    fn support_mail_carries_number_transcript_and_escaped_html() {
        let (to, raw) =
            build(&settings(), &ticket("Can't sign in"), Recipient::Support, &About::default()).unwrap();
        assert_eq!(to, "help@example.com");
        let text = String::from_utf8_lossy(&raw);
        assert!(headers(&raw).contains("AB-20260109-0004"), "{text}");
        assert!(text.contains("Reply-To: ada@example.com"));
        assert!(text.contains("text/plain") && text.contains("text/html"));
        let html = text.split("text/html").nth(1).unwrap();
        assert!(html.contains("&lt;script&gt;"), "escaped in HTML: {html}");
        assert!(!html.contains("<script>") && !html.contains("<b>broke</b>"), "user HTML never raw: {html}");
    }

    fn ada() -> About<'static> {
        About { user_name: Some("Ada Lovelace"), web_client: Some("https://support.example.com") }
    }

    #[test]
    fn the_mails_lead_with_the_person_and_their_words() {
        let mut t = ticket("Charged twice");
        t.description = "My card was charged twice on 3 March.".into();
        let answer = "Charges appear on the billing date each month. ".repeat(20);
        t.transcript = vec![
            TranscriptLine {
                role: "user".into(),
                content: "why was I charged twice".into(),
                created_at: "2026-01-09T10:00:00Z".into(),
                sources: Vec::new(),
            },
            TranscriptLine {
                role: "assistant".into(),
                content: answer.clone(),
                created_at: "2026-01-09T10:00:01Z".into(),
                sources: vec![crate::domain::Source {
                    id: "billing-and-invoices".into(),
                    title: "Billing and invoices".into(),
                }],
            },
        ];
        let text = |raw: &[u8]| {
            let message = mail_parser::MessageParser::default().parse(raw).unwrap();
            message.body_text(0).unwrap().replace("\r\n", "\n")
        };
        let (_, raw) = build(&settings(), &t, Recipient::Support, &ada()).unwrap();
        let support = text(&raw);
        assert!(
            support.starts_with(
                "Ada Lovelace <ada@example.com> asks for help: Charged twice\n\nMy card was charged twice on 3 March."
            ),
            "{support}"
        );
        assert!(support.contains("- Ada Lovelace: why was I charged twice"), "{support}");
        assert!(support.contains("(sources: Billing and invoices)"), "{support}");
        assert!(!support.contains(&answer), "long answers are shortened: {support}");
        assert!(support.contains("\u{2026}"), "{support}");
        assert!(support.find("usr_1").unwrap() > support.find("Billing").unwrap(), "the id comes last");

        let (_, raw) = build(&settings(), &t, Recipient::User, &ada()).unwrap();
        let user = text(&raw);
        assert!(user.starts_with("Hello Ada Lovelace,"), "{user}");
        assert!(user.contains("What you told us:\nMy card was charged twice on 3 March."), "{user}");
        assert!(user.contains("https://support.example.com/"), "a link to the web client: {user}");
        assert!(!user.to_lowercase().contains("priority") && !user.contains("hour"), "{user}");
        let mut urgent = t.clone();
        urgent.priority = Priority::Urgent;
        assert_eq!(text(&build(&settings(), &urgent, Recipient::User, &ada()).unwrap().1), user);
        let (_, anonymous) = build(&settings(), &t, Recipient::User, &About::default()).unwrap();
        let anonymous = text(&anonymous);
        assert!(anonymous.starts_with("Hello,"), "no name: no guess");
        assert!(!anonymous.contains("https://"), "no web client known: no link");
    }

    #[test]
    fn user_text_never_adds_a_header() {
        let (_, raw) = build(
            &settings(),
            &ticket("help\r\nBcc: x@evil.example\r\nX-Evil: 1"),
            Recipient::User,
            &About::default(),
        )
        .unwrap();
        let head = headers(&raw);
        for line in head.lines() {
            assert!(!line.to_ascii_lowercase().starts_with("bcc:"), "{head}");
            assert!(!line.to_ascii_lowercase().starts_with("x-evil:"), "{head}");
        }
        assert_eq!(header_safe("a\r\nb\tc"), "a b c");
    }

    #[test]
    fn later_mails_reply_to_the_id_the_recipient_saw() {
        let header = |raw: &[u8], name: &str| {
            headers(raw).lines().find_map(|l| l.strip_prefix(name).map(str::to_owned)).unwrap_or_default()
        };
        let followup =
            |t: &SupportTicket| build_followup(&settings(), t, "resolved-2-support", Followup::Resolved);
        let mut t = ticket("Charged twice");
        // Before the first mail is sent (or through a service that keeps ours): our own id.
        let (_, raw) = followup(&t).unwrap();
        assert_eq!(header(&raw, "In-Reply-To: "), "<tkt_1.support@support-backend>");
        // SES replaced it: the later mail names SES's, in both headers, and keeps its own id.
        t.message_id_support = Some("<0100019a-abc-000000@email.amazonses.com>".into());
        let (_, raw) = followup(&t).unwrap();
        assert_eq!(header(&raw, "In-Reply-To: "), "<0100019a-abc-000000@email.amazonses.com>");
        assert_eq!(header(&raw, "References: "), "<0100019a-abc-000000@email.amazonses.com>");
        assert_eq!(header(&raw, "Message-ID: "), "<tkt_1.resolved-2-support@support-backend>");
        let (_, reply) = build_agent_reply(&settings(), &t, "agent-3-user", "Dana", "Done.").unwrap();
        assert_eq!(header(&reply, "In-Reply-To: "), "<tkt_1.user@support-backend>", "the user's own thread");
    }
}
