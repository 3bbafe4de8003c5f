//! Inbound mail, as the domain sees it: what a reply says once quoted history and signatures
//! are cut, the commands an agent may give on a line of their own, and the receiving server's
//! verdicts on the message's origin.

/// What an agent can do from a reply, on a line of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailCommand {
    /// `#resolve`: the ticket is solved.
    Resolve,
    /// `#pending`: waiting on the user.
    Pending,
    /// `#close`: done for good.
    Close,
}

/// A reply's own text (quotes and signature cut) and the last command in it, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyText {
    /// What the sender wrote, trimmed (may be empty when the reply was only a command).
    pub text: String,
    /// The last command line.
    pub command: Option<MailCommand>,
}

/// Whether `line` opens the quoted history a mail client adds under a reply.
fn opens_history(line: &str, next: Option<&str>) -> bool {
    let line = line.trim();
    // Gmail and Apple Mail: "On Tue, 9 Jan 2026 at 10:00, Support <x@y> wrote:", sometimes
    // wrapped before "wrote:".
    let attribution = line.starts_with("On ")
        && (line.ends_with("wrote:") || next.is_some_and(|n| n.trim().ends_with("wrote:")));
    // Outlook: a separator line, or a header block ("From: …" then "Sent:"/"Date:").
    let outlook = line.starts_with("-----Original Message-----")
        || line.starts_with("________________________________")
        || (line.starts_with("From:")
            && next.is_some_and(|n| ["Sent:", "Date:", "To:"].iter().any(|h| n.trim().starts_with(h))));
    attribution || outlook
}

/// Whether `line` starts a signature: the standard `-- ` delimiter or a mobile footer.
fn opens_signature(line: &str) -> bool {
    let trimmed = line.trim_end();
    trimmed == "--"
        || trimmed == "-- "
        || line == "-- "
        || trimmed.starts_with("Sent from my ")
        || trimmed.starts_with("Get Outlook for ")
}

/// The reply's own text: everything above the quoted history or the signature, without `>`
/// lines, with command lines taken out.
pub fn reply_text(body: &str) -> ReplyText {
    let body = body.replace("\r\n", "\n");
    let lines: Vec<&str> = body.lines().collect();
    let mut kept = Vec::new();
    let mut command = None;
    for (i, line) in lines.iter().enumerate() {
        if opens_history(line, lines.get(i + 1).copied()) || opens_signature(line) {
            break;
        }
        if line.trim_start().starts_with('>') {
            continue;
        }
        match line.trim().to_ascii_lowercase().as_str() {
            "#resolve" => command = Some(MailCommand::Resolve),
            "#pending" => command = Some(MailCommand::Pending),
            "#close" => command = Some(MailCommand::Close),
            _ => kept.push(line.trim_end()),
        }
    }
    ReplyText { text: kept.join("\n").trim().to_owned(), command }
}

/// The receiving server's verdicts (SES's receipt, or the `Authentication-Results` header).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Verdicts {
    /// SPF passed.
    pub spf: bool,
    /// DKIM passed.
    pub dkim: bool,
    /// DMARC failed (absent or none is not a failure).
    pub dmarc_failed: bool,
    /// The spam check passed.
    pub spam_ok: bool,
    /// The virus check passed.
    pub virus_ok: bool,
}

impl Verdicts {
    /// Whether the mail is trusted to come from its `From` domain: SPF or DKIM passed, DMARC
    /// did not fail, and neither spam nor virus was found.
    pub fn trusted(&self) -> bool {
        (self.spf || self.dkim) && !self.dmarc_failed && self.spam_ok && self.virus_ok
    }

    /// Verdicts from SES receiving's statuses (`PASS`, `FAIL`, `GRAY`, `PROCESSING_FAILED`,
    /// `DISABLED`; absent is `None`): only `PASS` passes, and only `FAIL` fails DMARC.
    pub fn from_ses(
        spf: Option<&str>,
        dkim: Option<&str>,
        dmarc: Option<&str>,
        spam: Option<&str>,
        virus: Option<&str>,
    ) -> Self {
        let is =
            |status: Option<&str>, expected: &str| status.is_some_and(|s| s.eq_ignore_ascii_case(expected));
        Self {
            spf: is(spf, "PASS"),
            dkim: is(dkim, "PASS"),
            dmarc_failed: is(dmarc, "FAIL"),
            spam_ok: is(spam, "PASS"),
            virus_ok: is(virus, "PASS"),
        }
    }

    /// Verdicts from `Authentication-Results` header values (`spf=pass dkim=pass dmarc=pass`),
    /// as the local gateway reads them from a dropped message. Spam and virus checks are SES's:
    /// locally they count as passed.
    pub fn from_authentication_results<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        let mut v = Self { spam_ok: true, virus_ok: true, ..Self::default() };
        for value in values {
            for part in value.split(';') {
                let part = part.trim().to_ascii_lowercase();
                let result = |method: &str| {
                    part.strip_prefix(method)
                        .and_then(|r| r.strip_prefix('='))
                        .map(|r| r.split_whitespace().next().unwrap_or("").to_owned())
                };
                if let Some(r) = result("spf") {
                    v.spf |= r == "pass";
                }
                if let Some(r) = result("dkim") {
                    v.dkim |= r == "pass";
                }
                if let Some(r) = result("dmarc") {
                    v.dmarc_failed |= r == "fail";
                }
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own(body: &str) -> String {
        reply_text(body).text
    }

    #[test]
    fn gmail_quotes_are_cut_at_the_attribution_even_when_wrapped() {
        let body = "Thanks for waiting: I refunded the second charge.\r\n\r\nOn Fri, Jan 9, 2026 at 10:00 AM Support <support@example.com> wrote:\r\n> New support ticket AB-20260109-0001\r\n> Transcript: ...\r\n";
        assert_eq!(own(body), "Thanks for waiting: I refunded the second charge.");
        let wrapped = "Done.\n\nOn Fri, Jan 9, 2026 at 10:00 AM Support Team <support@example.com>\nwrote:\n\n> earlier\n";
        assert_eq!(own(wrapped), "Done.");
    }

    #[test]
    fn outlook_header_blocks_and_separators_are_cut() {
        let block = "Hello Ada,\n\nThe refund is on its way.\n\nBest regards,\nGrace\n\n________________________________\nFrom: Support <support@example.com>\nSent: Friday, January 9, 2026 10:00 AM\nTo: support@example.com\nSubject: [AB-20260109-0001] Charged twice\n\nNew support ticket\n";
        assert_eq!(own(block), "Hello Ada,\n\nThe refund is on its way.\n\nBest regards,\nGrace");
        let bare =
            "See the attached policy.\nFrom: Support <support@example.com>\nSent: Friday\nSubject: x\n";
        assert_eq!(own(bare), "See the attached policy.");
        let original = "Fixed.\n\n-----Original Message-----\nFrom: x\nold text\n";
        assert_eq!(own(original), "Fixed.");
    }

    #[test]
    fn apple_mail_quotes_and_mobile_signatures_are_cut() {
        let body = "It should be fixed now.\n\nSent from my iPhone\n\n> On 9 Jan 2026, at 10:00, Support <support@example.com> wrote:\n>\n> New support ticket\n";
        assert_eq!(own(body), "It should be fixed now.");
        let signed = "Refunded.\n-- \nGrace Hopper\nSupport team\n";
        assert_eq!(own(signed), "Refunded.");
        let inline = "> Is it fixed?\nYes, since this morning.\n> Thanks\n";
        assert_eq!(own(inline), "Yes, since this morning.");
    }

    #[test]
    fn commands_stand_on_their_own_line_and_the_last_wins() {
        let r = reply_text("Refunded, closing this.\n#pending\n  #RESOLVE  \n");
        assert_eq!((r.text.as_str(), r.command), ("Refunded, closing this.", Some(MailCommand::Resolve)));
        let only = reply_text("#close\n\nOn Fri, Jan 9 wrote:\n> x\n");
        assert_eq!((only.text.as_str(), only.command), ("", Some(MailCommand::Close)));
        let mention = reply_text("Do not type #resolve in the middle of a line.");
        assert_eq!(mention.command, None);
    }

    #[test]
    fn verdicts_need_spf_or_dkim_and_no_dmarc_failure() {
        let read = |h: &str| Verdicts::from_authentication_results([h]);
        assert!(read("mx.example.com; spf=pass smtp.mailfrom=a.example; dkim=fail; dmarc=pass").trusted());
        assert!(read("mx.example.com; spf=fail; dkim=pass header.d=a.example; dmarc=none").trusted());
        assert!(!read("mx.example.com; spf=fail; dkim=fail; dmarc=none").trusted());
        assert!(!read("mx.example.com; spf=pass; dkim=pass; dmarc=fail").trusted());
        assert!(!Verdicts::from_authentication_results([]).trusted(), "no header: no verdicts");
        let spam = Verdicts { spf: true, dkim: true, dmarc_failed: false, spam_ok: false, virus_ok: true };
        assert!(!spam.trusted());
    }

    #[test]
    fn ses_verdicts_pass_only_on_pass() {
        let ses = |spf, dkim, dmarc, spam, virus| Verdicts::from_ses(spf, dkim, dmarc, spam, virus).trusted();
        let pass = Some("PASS");
        assert!(ses(pass, pass, pass, pass, pass));
        assert!(ses(Some("FAIL"), pass, Some("GRAY"), pass, pass), "DKIM alone, DMARC not failed");
        assert!(!ses(Some("GRAY"), Some("PROCESSING_FAILED"), pass, pass, pass), "neither passed");
        assert!(!ses(pass, pass, Some("FAIL"), pass, pass), "DMARC failed");
        assert!(!ses(pass, pass, pass, Some("FAIL"), pass), "spam");
        assert!(!ses(pass, pass, pass, Some("DISABLED"), pass), "no spam scan");
        assert!(!ses(pass, pass, pass, pass, None), "no virus verdict");
    }
}
