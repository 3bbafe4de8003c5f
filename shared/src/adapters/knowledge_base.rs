//! The knowledge-base assistant: Markdown articles split into passages, indexed once with BM25
//! over stemmed tokens, with a small domain thesaurus so paraphrases ("log on", "locked out",
//! "can't get in") meet the articles' words. Answers quote the best passages and cite them.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use bm25::{Embedder, EmbedderBuilder, Scorer, Tokenizer};
use rust_stemmers::{Algorithm, Stemmer};

use crate::domain::{MessageRecord, Source};
use crate::ports::{Answer, Assistant, AssistantError};

/// An article fits a question when it contains this share of the question's terms, or when it
/// scores this high: short questions fit by coverage (their BM25 scores stay low), long rambling
/// ones by score. Nonsense does neither. Tuned on the sets in `tests/fixtures`.
const MIN_COVERAGE: f32 = 0.4;
const MIN_SCORE: f32 = 6.0;
/// Weight of an article's best passage in its score.
const PASSAGE_WEIGHT: f32 = 1.0;
/// A second passage is quoted when it scores at least this share of the best one.
const SECOND_SHARE: f32 = 0.75;

/// Why the articles could not be indexed.
#[derive(Debug, thiserror::Error)]
pub enum KnowledgeBaseError {
    /// An article does not start with a `# Title` line or has no text.
    #[error("article {0}: {1}")]
    BadArticle(String, &'static str),
    /// No articles at all.
    #[error("the knowledge base has no articles")]
    Empty,
}

/// Word groups treated as one term; the first entry is the term. Phrases are matched before
/// single words. Lower case; apostrophes are removed before matching ("can't" → "cant").
#[rustfmt::skip]
const THESAURUS: &[&[&str]] = &[
    &["signin", "sign in", "signing in", "signed in", "log in", "logging in", "logged in", "login", "log on", "logging on", "logon", "sign on", "signin"],
    &["signout", "sign out", "signing out", "signed out", "log out", "logging out", "logged out", "logout", "log off"],
    &["register", "sign up", "signup", "signing up", "create an account", "new account", "open an account", "make an account", "create a profile", "make a profile", "new profile", "registration", "first time"],
    &["account", "accounts", "acct", "profile", "profiles", "user account", "my account"],
    &["registered", "taken", "already in use", "already registered", "already exists", "already used", "in use"],
    &["password", "passwords", "passphrase", "passphrases", "pass", "pwd", "pw", "passcode", "credentials", "secret word"],
    &["change", "changing", "changed", "swap", "switch", "switched", "replace", "update", "edit", "modify", "tweak", "adjust"],
    &["forgot", "forgotten", "forget", "cant remember", "dont remember", "do not remember", "cannot remember", "no idea", "no clue", "dont know", "lost my password"],
    &["reset", "recover", "recovery", "resetting"],
    &["lockout", "locked", "locked out", "lock", "blocked", "block", "frozen", "wont let me in", "cant get in", "cannot get in", "wont let me", "shut out", "too many"],
    &["attempt", "attempts", "tries", "tried", "try", "times"],
    &["wrong", "incorrect", "invalid", "mistyped", "typo", "typos", "mistake", "rejected", "rejecting", "rejects"],
    &["capitalization", "capital", "capitals", "capital letters", "uppercase", "upper case", "lowercase", "lower case", "case sensitive", "case insensitive"],
    &["session", "sessions", "stay signed in", "stay logged in", "remember me", "kept signed in", "keep me signed in"],
    &["expire", "expired", "expiry", "expires", "timed out", "time out", "timeout", "kicked out", "kick me out", "kicks me out", "boots me", "boot me", "keeps logging me out", "log back in", "log back on", "sign back in"],
    &["inactive", "inactivity", "idle", "away", "vacation", "holiday", "without use", "not used", "unused"],
    &["live", "websocket", "web socket", "real time", "realtime", "live updates", "instant", "push"],
    &["connection", "connect", "connected", "disconnect", "disconnected", "disconnects", "dropped", "drops", "drop", "reconnect", "reconnecting", "offline"],
    &["refresh", "reload", "reloading", "refreshing"],
    &["sleep", "sleeping", "asleep", "standby", "hibernate", "lid"],
    &["cookie", "cookies", "incognito", "private browsing", "private mode", "private window"],
    &["browser", "browsers", "chrome", "firefox", "safari", "edge"],
    &["billing", "bill", "bills", "billed", "invoice", "invoices", "receipt", "receipts", "charge", "charged", "charges", "payment", "payments", "pay", "paid", "subscription", "card"],
    &["refund", "refunds", "money back", "reimburse", "reimbursement"],
    &["email", "e mail", "mail", "emails", "mails", "address", "inbox", "mailbox", "gmail", "outlook", "hotmail", "yahoo", "confirmation"],
    &["delete", "deleting", "deletion", "remove", "erase", "wipe", "deactivate", "close my account", "cancel my account", "get rid of"],
    &["human", "person", "people", "agent", "agents", "representative", "someone", "somebody", "staff", "operator", "real person", "support team", "live person"],
    &["ticket", "tickets", "case", "cases", "case number", "case reference", "reference", "reference number", "ticket number", "request number", "help request", "support request"],
    &["number", "numbers", "digits", "numbering"],
    &["status", "progress", "update on"],
    &["privacy", "personal data", "gdpr", "my data", "personal information", "data export", "download my data", "copy of my data"],
    &["export", "download", "copy"],
    &["notification", "notifications", "not arriving", "didnt get", "didnt receive", "never arrived", "never got", "not received", "spam", "junk"],
    &["retry", "retried", "resend", "resent", "queued", "requeued"],
    &["security", "secure", "safe", "safety", "hacked", "hacker", "hackers", "attacker", "attackers", "criminals", "crooks", "thieves", "protect", "protection"],
    &["scam", "scams", "phishing", "fraud", "fake", "con", "impersonate", "impersonating", "claiming", "suspicious", "legit"],
    &["strong", "strength", "weak", "guess", "guessable", "complex", "complexity"],
    &["twofactor", "two factor", "2fa", "mfa", "multi factor", "authenticator", "one time code", "verification code", "second step"],
    &["phone", "mobile", "handset", "cellphone", "smartphone"],
    &["assistant", "bot", "chatbot", "ai", "virtual assistant"],
    &["articles", "article", "faq", "faqs", "help articles", "help pages", "knowledge base", "help center"],
    &["escalate", "escalation", "escalating", "hand over", "handoff"],
];

/// The thesaurus as a lookup: phrase → term.
struct Thesaurus {
    entries: HashMap<&'static str, &'static str>,
    // First words of multi-word phrases: other words need only a single-word lookup.
    phrase_starts: HashSet<&'static str>,
    longest: usize,
}

impl Thesaurus {
    fn new() -> Self {
        let mut entries = HashMap::new();
        let mut phrase_starts = HashSet::new();
        let mut longest = 1;
        for group in THESAURUS {
            for variant in group.iter() {
                entries.insert(*variant, group[0]);
                let mut words = variant.split(' ');
                let first = words.next().unwrap_or_default();
                let count = 1 + words.count();
                if count > 1 {
                    phrase_starts.insert(first);
                }
                longest = longest.max(count);
            }
        }
        Self { entries, phrase_starts, longest }
    }

    /// Lower-cases, drops apostrophes, splits into words and replaces known phrases by their term
    /// (longest phrase first, so "sign in" wins over "sign").
    fn normalize(&self, text: &str) -> String {
        let lowered = text.to_lowercase().replace(['\'', '’'], "");
        let words: Vec<&str> =
            lowered.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
        let mut out: Vec<&str> = Vec::with_capacity(words.len());
        let mut phrase = String::new();
        let mut i = 0;
        'words: while i < words.len() {
            let longest =
                if self.phrase_starts.contains(words[i]) { self.longest.min(words.len() - i) } else { 1 };
            for len in (1..=longest).rev() {
                phrase.clear();
                for (k, w) in words[i..i + len].iter().enumerate() {
                    if k > 0 {
                        phrase.push(' ');
                    }
                    phrase.push_str(w);
                }
                if let Some(term) = self.entries.get(phrase.as_str()) {
                    out.push(term);
                    i += len;
                    continue 'words;
                }
            }
            out.push(words[i]);
            i += 1;
        }
        out.join(" ")
    }
}

/// Stemmed, stop-word-free English tokens after the thesaurus, which has already lowercased the
/// text and split it into words. The same steps as `bm25`'s default tokenizer for English (NLTK's
/// stop words, the Snowball stemmer) without its other languages' data; accents are not folded.
struct DomainTokenizer {
    thesaurus: Thesaurus,
    stop_words: HashSet<&'static str>,
    stemmer: Stemmer,
}

impl Default for DomainTokenizer {
    fn default() -> Self {
        Self {
            thesaurus: Thesaurus::new(),
            stop_words: stop_words::get(stop_words::LANGUAGE::English).iter().copied().collect(),
            stemmer: Stemmer::create(Algorithm::English),
        }
    }
}

/// Text that is already tokens joined by spaces: documents are tokenized once, up front.
#[derive(Default)]
struct Pretokenized;

impl Tokenizer for Pretokenized {
    fn tokenize(&self, text: &str) -> Vec<String> {
        text.split(' ').filter(|t| !t.is_empty()).map(str::to_owned).collect()
    }
}

/// A BM25 index: documents embedded from their tokens, queries with the full tokenizer (same
/// parameters, same token hashing, so the two embeddings are comparable).
struct Index {
    query: Embedder<u32, DomainTokenizer>,
    scorer: Scorer<usize, u32>,
}

impl Index {
    fn new(documents: &[Vec<String>]) -> Self {
        let avgdl = documents.iter().map(Vec::len).sum::<usize>() as f32 / documents.len().max(1) as f32;
        let embed_document = EmbedderBuilder::<u32, Pretokenized>::with_avgdl(avgdl).build();
        let mut scorer = Scorer::new();
        for (i, tokens) in documents.iter().enumerate() {
            scorer.upsert(&i, embed_document.embed(&tokens.join(" ")));
        }
        Self { query: EmbedderBuilder::<u32, DomainTokenizer>::with_avgdl(avgdl).build(), scorer }
    }

    /// Documents matching `query`, best first, with their scores.
    fn matches(&self, query: &str) -> Vec<(usize, f32)> {
        self.scorer.matches(&self.query.embed(query)).into_iter().map(|m| (m.id, m.score)).collect()
    }
}

impl Tokenizer for DomainTokenizer {
    fn tokenize(&self, text: &str) -> Vec<String> {
        self.thesaurus
            .normalize(text)
            .split(' ')
            .filter(|word| !word.is_empty() && !self.stop_words.contains(word))
            .map(|word| self.stemmer.stem(word).into_owned())
            .collect()
    }
}

/// A section of an article, the unit of retrieval.
struct Passage {
    article: usize,
    text: String,
}

/// The indexed articles.
pub struct KnowledgeBase {
    thesaurus: Thesaurus,
    tokenizer: DomainTokenizer,
    articles: Vec<Source>,
    // Every term of each article, for coverage.
    terms: Vec<HashSet<String>>,
    passages: Vec<Passage>,
    // Whole articles pick the topic (more vocabulary, steadier scores); passages pick the text.
    article_index: Index,
    passage_index: Index,
}

/// A passage found for a query.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The article.
    pub source: Source,
    /// BM25 score.
    pub score: f32,
}

/// Splits `# Title` / `## Heading` Markdown into (title, sections of heading + body).
fn split_article(id: &str, markdown: &str) -> Result<(String, Vec<String>), KnowledgeBaseError> {
    let mut lines = markdown.lines();
    let title =
        lines.next().and_then(|l| l.strip_prefix("# ")).map(str::trim).filter(|t| !t.is_empty()).ok_or_else(
            || KnowledgeBaseError::BadArticle(id.to_owned(), "must start with a `# Title` line"),
        )?;
    let mut sections: Vec<String> = Vec::new();
    let mut current = String::new();
    for line in lines {
        if let Some(heading) = line.strip_prefix("## ") {
            if !current.trim().is_empty() {
                sections.push(current.trim().to_owned());
            }
            current = format!("{}\n", heading.trim());
        } else {
            current.push_str(line);
            current.push('\n');
        }
    }
    if !current.trim().is_empty() {
        sections.push(current.trim().to_owned());
    }
    if sections.is_empty() {
        return Err(KnowledgeBaseError::BadArticle(id.to_owned(), "has no text"));
    }
    Ok((title.to_owned(), sections))
}

impl KnowledgeBase {
    /// Indexes `(id, markdown)` articles: each `##` section becomes a passage, prefixed with its
    /// article's title so title words count for every section.
    pub fn build(articles: &[(&str, &str)]) -> Result<Self, KnowledgeBaseError> {
        if articles.is_empty() {
            return Err(KnowledgeBaseError::Empty);
        }
        let mut sources = Vec::with_capacity(articles.len());
        let mut passages = Vec::new();
        for (index, (id, markdown)) in articles.iter().enumerate() {
            let (title, sections) = split_article(id, markdown)?;
            for section in sections {
                passages.push(Passage { article: index, text: section });
            }
            sources.push(Source { id: (*id).to_owned(), title });
        }
        // Each text is tokenized once: a passage is its article's title and its section; an
        // article is its title and all its sections.
        let tokenizer = DomainTokenizer::default();
        let titles: Vec<Vec<String>> = sources.iter().map(|s| tokenizer.tokenize(&s.title)).collect();
        let mut whole: Vec<Vec<String>> = titles.clone();
        let mut sections: Vec<Vec<String>> = Vec::with_capacity(passages.len());
        for p in &passages {
            let body = tokenizer.tokenize(&p.text);
            whole[p.article].extend(body.iter().cloned());
            sections.push(titles[p.article].iter().cloned().chain(body).collect());
        }
        Ok(Self {
            thesaurus: Thesaurus::new(),
            terms: whole.iter().map(|tokens| tokens.iter().cloned().collect()).collect(),
            article_index: Index::new(&whole),
            passage_index: Index::new(&sections),
            tokenizer,
            articles: sources,
            passages,
        })
    }

    /// How many articles and passages are indexed.
    pub fn size(&self) -> (usize, usize) {
        (self.articles.len(), self.passages.len())
    }

    /// The articles that best fit `query`, best first (at most `limit`): the whole-article score
    /// plus the article's best passage score, so an article that matches broadly and has one
    /// section that matches closely wins.
    pub fn hits(&self, query: &str, limit: usize) -> Vec<Hit> {
        let mut scores = vec![0f32; self.articles.len()];
        for (id, score) in self.article_index.matches(query) {
            scores[id] += score;
        }
        let mut best_passage = vec![0f32; self.articles.len()];
        for (id, score) in self.passage_index.matches(query) {
            let article = self.passages[id].article;
            best_passage[article] = best_passage[article].max(score);
        }
        let mut hits: Vec<Hit> = scores
            .iter()
            .zip(&best_passage)
            .enumerate()
            .filter(|(_, (a, p))| **a > 0.0 || **p > 0.0)
            .map(|(i, (a, p))| Hit { source: self.articles[i].clone(), score: a + PASSAGE_WEIGHT * p })
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
        hits.truncate(limit);
        hits
    }

    /// The share of `question`'s distinct terms that occur in article `id`.
    pub fn coverage(&self, question: &str, id: &str) -> f32 {
        let asked: HashSet<String> = self.tokenizer.tokenize(question).into_iter().collect();
        let Some(terms) = self.articles.iter().position(|a| a.id == id).map(|i| &self.terms[i]) else {
            return 0.0;
        };
        if asked.is_empty() {
            return 0.0;
        }
        asked.iter().filter(|t| terms.contains(*t)).count() as f32 / asked.len() as f32
    }

    /// The passage of `article` that best fits `query` (its first one if none matches).
    fn best_passage(&self, article: &str, query: &str) -> &Passage {
        let in_article = |p: &Passage| self.articles[p.article].id == article;
        self.passage_index
            .matches(query)
            .into_iter()
            .map(|(id, _)| &self.passages[id])
            .find(|p| in_article(p))
            .or_else(|| self.passages.iter().find(|p| in_article(p)))
            .unwrap_or(&self.passages[0])
    }

    /// A person is named together with a verb of asking for one ("talk to a human", "get me an
    /// agent"); a person merely mentioned ("someone emailed me") is not a request.
    fn asks_for_a_person(&self, question: &str) -> bool {
        // Canonical forms: "connect" is normalized to "connection".
        const ASKING: &[&str] =
            &["talk", "speak", "chat", "connection", "contact", "reach", "get", "want", "need"];
        let normalized = self.thesaurus.normalize(question);
        let words: Vec<&str> = normalized.split(' ').collect();
        words.contains(&"human") && words.iter().any(|w| ASKING.contains(w))
    }

    /// The answer to `question` (what [`Assistant::answer`] returns).
    pub fn compose(&self, question: &str) -> Answer {
        if self.asks_for_a_person(question) {
            let sources =
                self.hits("contact support escalate human ticket", 1).into_iter().map(|h| h.source).collect();
            return Answer {
                content:
                    "Of course. Use \"Talk to a human\" to escalate this conversation: our support team \
                          receives the whole conversation, opens a ticket and replies by email. You will get \
                          the ticket number by email too."
                        .to_owned(),
                sources,
                suggest_escalation: true,
            };
        }
        let found = self.hits(question, 2);
        let fits = |h: &&Hit| h.score >= MIN_SCORE || self.coverage(question, &h.source.id) >= MIN_COVERAGE;
        let Some(best) = found.first().filter(fits) else {
            return Answer {
                content: "I could not find an answer to that in our help articles. You can escalate this \
                          conversation to our support team: they will open a ticket and reply by email."
                    .to_owned(),
                sources: Vec::new(),
                suggest_escalation: true,
            };
        };
        let mut content = format!(
            "From \"{}\":\n\n{}",
            best.source.title,
            self.best_passage(&best.source.id, question).text
        );
        let mut sources = vec![best.source.clone()];
        if let Some(second) = found.get(1).filter(|h| h.score >= best.score * SECOND_SHARE) {
            let text = &self.best_passage(&second.source.id, question).text;
            content.push_str(&format!("\n\nSee also \"{}\":\n\n{text}", second.source.title));
            sources.push(second.source.clone());
        }
        Answer { content, sources, suggest_escalation: false }
    }
}

#[async_trait]
impl Assistant for KnowledgeBase {
    async fn answer(&self, question: &str, _history: &[MessageRecord]) -> Result<Answer, AssistantError> {
        Ok(self.compose(question))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARTICLES: &[(&str, &str)] = &[
        ("signing-in", "# Signing in\n\n## The form\nEnter your email and password to sign in.\n"),
        (
            "billing",
            "# Billing and invoices\n\n## Invoices\nInvoices are in Settings, under Billing.\n\n## Refunds\nRefunds within 14 days.\n",
        ),
    ];

    #[test]
    fn the_thesaurus_joins_phrasings() {
        let t = Thesaurus::new();
        assert_eq!(t.normalize("I can't log on!"), "i cant signin");
        assert_eq!(t.normalize("Log in, login, sign-in"), "signin signin signin");
        assert_eq!(t.normalize("it won't let me in"), "it lockout");
        assert_eq!(t.normalize("where is my receipt"), "where is my billing");
    }

    #[test]
    fn finds_paraphrases_and_cites_sources() {
        let kb = KnowledgeBase::build(ARTICLES).unwrap();
        assert_eq!(kb.size(), (2, 3));
        // Not one word of the question is in the article, but "log on" is "sign in" and "pass"
        // is "password".
        let hits = kb.hits("how do I log on with my pass", 2);
        assert_eq!(hits[0].source.id, "signing-in");
        assert_eq!(kb.hits("where is my receipt", 1)[0].source.id, "billing");
    }

    #[test]
    fn nonsense_and_asking_for_a_person_suggest_escalation() {
        let kb = KnowledgeBase::build(ARTICLES).unwrap();
        assert!(kb.compose("purple elephant quantum lasagna").suggest_escalation);
        assert!(kb.compose("can I talk to a real person").suggest_escalation);
    }

    #[test]
    fn malformed_articles_are_refused() {
        assert!(KnowledgeBase::build(&[]).is_err());
        assert!(KnowledgeBase::build(&[("x", "no title")]).is_err());
        assert!(KnowledgeBase::build(&[("x", "# Title only\n")]).is_err());
    }
}
