//! Seed files: the accounts, keys, inboxes and webhooks a test fixture starts with (and
//! returns to on reset). JSON, or TOML when the file name ends in `.toml`:
//!
//! ```toml
//! domains = [{ name = "example.com" }]   # verified at once, without DNS
//! inboxes = [{ address = "agent" }, { address = "support@example.com" }]
//! webhooks = [{ url = "http://127.0.0.1:9000/hook", events = ["message.received"] }]
//!
//! [[accounts]]
//! name = "Other team"
//! email = "other@example.com"
//! apiKey = "ask_…"              # 40 characters of A-Z a-z 0-9 - _
//! inboxes = [{ address = "other" }]
//! ```
//!
//! Top-level `domains`, `inboxes` and `webhooks` belong to the default account. Addresses are
//! local parts (on the shared domain) or full addresses on the shared domain or one of the
//! account's seeded domains, which are verified at once and sign with an Ed25519 key made
//! when the file is read. Everything is checked when the file is read; a bad
//! file names its line and field, and nothing starts.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::domain::account::AccountName;
use crate::domain::custom_domain::DkimAlgorithm;
use crate::domain::inbox::{AddressRequest, InboxDomain};
use crate::domain::random;
use crate::domain::webhook::{EventFilter, WebhookSecret, WebhookUrl};
use crate::domain::{
    AccountId, ApiKeySecret, DisplayName, DomainName, EmailAddress, KeyName, LocalPart, Plan,
    Timestamp,
};
use crate::mail::dkim::DkimKey;
use crate::store::accounts::{self, NewAccount};
use crate::store::domains::{self, NewDomain};
use crate::store::inboxes::{self, NewInbox};
use crate::store::webhooks::{self, NewWebhook};
use crate::store::{Failure, Tx};

/// A seed file as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SeedFile {
    #[serde(default)]
    domains: Vec<DomainSeed>,
    #[serde(default)]
    inboxes: Vec<InboxSeed>,
    #[serde(default)]
    webhooks: Vec<WebhookSeed>,
    #[serde(default)]
    accounts: Vec<AccountSeedFile>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct DomainSeed {
    name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct InboxSeed {
    address: String,
    display_name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct WebhookSeed {
    url: String,
    events: Option<Vec<String>>,
    secret: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AccountSeedFile {
    name: String,
    email: String,
    api_key: String,
    #[serde(default)]
    domains: Vec<DomainSeed>,
    #[serde(default)]
    inboxes: Vec<InboxSeed>,
    #[serde(default)]
    webhooks: Vec<WebhookSeed>,
}

/// A checked seed, ready to apply.
#[derive(Debug, Clone, Default)]
pub struct Seed {
    default: Contents,
    accounts: Vec<AccountSeed>,
}

/// What one account is seeded with.
#[derive(Clone, Default)]
struct Contents {
    domains: Vec<NewDomain>,
    /// The local part, the seeded domain (an index into `domains`) or the shared one, and the
    /// display name.
    inboxes: Vec<(LocalPart, Option<usize>, Option<DisplayName>)>,
    /// With their secret: given, or made when the file is read (the same across resets).
    webhooks: Vec<(WebhookUrl, EventFilter, WebhookSecret)>,
}

#[derive(Debug, Clone)]
struct AccountSeed {
    name: AccountName,
    email: EmailAddress,
    api_key: ApiKeySecret,
    contents: Contents,
}

/// A seed file that cannot be used: its path, and where and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("seed file {path}: {message}")]
pub struct SeedError {
    path: String,
    message: String,
}

impl Seed {
    /// Reads and checks `path`; addresses must be on `shared_domain`.
    pub fn load(path: &Path, shared_domain: &DomainName) -> Result<Self, SeedError> {
        let fail = |message: String| SeedError {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
        let file: SeedFile = if path.extension().is_some_and(|e| e == "toml") {
            let de = toml::Deserializer::parse(&text).map_err(|e| fail(toml_message(&text, &e)))?;
            serde_path_to_error::deserialize(de).map_err(|e| {
                let line = toml_line(&text, e.inner().span());
                fail(format!("{line}{}: {}", e.path(), e.inner().message()))
            })?
        } else {
            let mut de = serde_json::Deserializer::from_str(&text);
            serde_path_to_error::deserialize(&mut de).map_err(|e| {
                let line = e.inner().line();
                fail(format!("line {line}: {}: {}", e.path(), e.inner()))
            })?
        };
        file.check(shared_domain).map_err(fail)
    }

    /// Whether one of the seeded accounts has `key` (which then cannot be the default
    /// account's too).
    pub fn uses_key(&self, key: &ApiKeySecret) -> bool {
        self.accounts.iter().any(|a| a.api_key == *key)
    }

    /// Seeds the default account `account_id` and creates the other accounts, in `tx`.
    /// Returns the seeded inboxes' ids by address.
    pub fn apply(
        &self,
        tx: &Tx<'_>,
        account_id: AccountId,
        setup: &SeedSetup,
        now: Timestamp,
    ) -> Result<BTreeMap<String, String>, Failure> {
        let mut inboxes = BTreeMap::new();
        self.default
            .apply(tx, account_id, setup, now, &mut inboxes)?;
        for account in &self.accounts {
            let new = NewAccount {
                name: account.name.clone(),
                email: account.email.clone(),
                plan: Plan::Free,
                daily_send_limit: setup.account_daily_send_limit,
            };
            let created = accounts::create_account(tx, &new, now)?;
            let name = KeyName::parse("seed").ok();
            accounts::add_api_key(tx, created.id, &account.api_key, name.as_ref(), now)?;
            account
                .contents
                .apply(tx, created.id, setup, now, &mut inboxes)?;
        }
        Ok(inboxes)
    }
}

/// What applying a seed needs from the configuration.
#[derive(Debug, Clone)]
pub struct SeedSetup {
    /// The shared domain, where seeded inboxes live.
    pub shared_domain: DomainName,
    /// The default daily limit of an inbox.
    pub inbox_daily_send_limit: u32,
    /// The default daily limit of an account.
    pub account_daily_send_limit: u32,
}

/// Without the domains' private keys.
impl std::fmt::Debug for Contents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.domains.iter().map(|d| d.name.as_str()).collect();
        f.debug_struct("Contents")
            .field("domains", &names)
            .field("inboxes", &self.inboxes)
            .field("webhooks", &self.webhooks.len())
            .finish()
    }
}

impl Contents {
    fn apply(
        &self,
        tx: &Tx<'_>,
        account_id: AccountId,
        setup: &SeedSetup,
        now: Timestamp,
        ids: &mut BTreeMap<String, String>,
    ) -> Result<(), Failure> {
        let mut domain_ids = Vec::with_capacity(self.domains.len());
        for new in &self.domains {
            let domain = domains::create_domain(tx, account_id, new, now)?;
            domains::mark_verified(tx, domain.id, now)?;
            domain_ids.push(domain.id);
        }
        for (local, domain, display_name) in &self.inboxes {
            let domain = match domain {
                Some(i) => InboxDomain::Custom(domain_ids[*i]),
                None => InboxDomain::Shared(setup.shared_domain.clone()),
            };
            let new = NewInbox {
                address: AddressRequest::Exact(local.clone()),
                domain,
                requested_domain: None,
                display_name: display_name.clone(),
                daily_send_limit: None,
                default_daily_send_limit: setup.inbox_daily_send_limit,
            };
            let inbox = inboxes::create_inbox(tx, account_id, &new, now)?;
            ids.insert(inbox.address.clone(), inbox.id.to_string());
        }
        for (url, events, secret) in &self.webhooks {
            let new = NewWebhook {
                url: url.clone(),
                description: None,
                events: events.clone(),
                secret: secret.clone(),
            };
            webhooks::create_webhook(tx, account_id, &new, now)?;
        }
        Ok(())
    }
}

impl SeedFile {
    /// Checks every value; the message names the field.
    fn check(self, shared_domain: &DomainName) -> Result<Seed, String> {
        let mut taken = Taken::default();
        let default = contents(
            &self.domains,
            &self.inboxes,
            &self.webhooks,
            shared_domain,
            "",
            &mut taken,
        )?;
        let mut accounts = Vec::new();
        let mut keys = std::collections::HashSet::new();
        for (i, a) in self.accounts.iter().enumerate() {
            let at = format!("accounts[{i}]");
            let api_key = ApiKeySecret::parse(&a.api_key).ok_or_else(|| {
                format!("{at}.apiKey: must be `ask_` and 40 characters of A-Z a-z 0-9 - _")
            })?;
            if !keys.insert(api_key.hash()) {
                return Err(format!("{at}.apiKey: the same key is given twice"));
            }
            accounts.push(AccountSeed {
                name: AccountName::parse(&a.name).map_err(|e| format!("{at}.name: {e}"))?,
                email: EmailAddress::parse(a.email.trim())
                    .map_err(|e| format!("{at}.email: {e}"))?,
                api_key,
                contents: contents(
                    &a.domains,
                    &a.inboxes,
                    &a.webhooks,
                    shared_domain,
                    &format!("{at}."),
                    &mut taken,
                )?,
            });
        }
        Ok(Seed { default, accounts })
    }
}

/// Addresses and domain names the seed has used so far, across its accounts.
#[derive(Default)]
struct Taken {
    addresses: std::collections::HashSet<String>,
    domains: std::collections::HashSet<DomainName>,
}

fn contents(
    domains: &[DomainSeed],
    inboxes: &[InboxSeed],
    webhooks: &[WebhookSeed],
    shared_domain: &DomainName,
    at: &str,
    taken: &mut Taken,
) -> Result<Contents, String> {
    let mut out = Contents::default();
    let mut names = Vec::new();
    for (i, domain) in domains.iter().enumerate() {
        let field = format!("{at}domains[{i}].name");
        let name = DomainName::parse(&domain.name).map_err(|e| format!("{field}: {e}"))?;
        if name == *shared_domain || !taken.domains.insert(name.clone()) {
            return Err(format!(
                "{field}: {name} is given twice or is the shared domain"
            ));
        }
        let selector = format!("seed-{}", random::lower_alnum(6));
        let (key, private) = DkimKey::generate(DkimAlgorithm::Ed25519, name.as_str(), &selector)
            .map_err(|e| format!("{field}: cannot make its DKIM key: {e}"))?;
        out.domains.push(NewDomain {
            name: name.clone(),
            verification_token: hex::encode(random::bytes::<16>()),
            dkim_selector: selector,
            dkim_algorithm: DkimAlgorithm::Ed25519,
            dkim_private_key: private,
            dkim_public_key: key.public_key_base64(),
        });
        names.push(name);
    }
    for (i, inbox) in inboxes.iter().enumerate() {
        let field = format!("{at}inboxes[{i}]");
        let (local, domain) = match inbox.address.rsplit_once('@') {
            Some((local, domain)) => (local, Some(domain)),
            None => (inbox.address.as_str(), None),
        };
        let domain = domain
            .map(DomainName::parse)
            .transpose()
            .map_err(|e| format!("{field}.address: the domain {e}"))?;
        let seeded = match domain {
            None => None,
            Some(d) if d == *shared_domain => None,
            Some(d) => Some(names.iter().position(|n| *n == d).ok_or_else(|| {
                format!(
                    "{field}.address: {d} is not a domain of this server (the shared \
                             domain is {shared_domain}; seed others under `domains`)"
                )
            })?),
        };
        let local = LocalPart::parse(local).map_err(|e| format!("{field}.address: {e}"))?;
        let full = match seeded {
            Some(i) => format!("{}@{}", local.as_str(), names[i]),
            None => format!("{}@{shared_domain}", local.as_str()),
        };
        if !taken.addresses.insert(full.to_ascii_lowercase()) {
            return Err(format!("{field}.address: {full} is given twice"));
        }
        let display_name = inbox
            .display_name
            .as_deref()
            .map(DisplayName::parse)
            .transpose()
            .map_err(|e| format!("{field}.displayName: {e}"))?
            .flatten();
        out.inboxes.push((local, seeded, display_name));
    }
    for (i, webhook) in webhooks.iter().enumerate() {
        let field = format!("{at}webhooks[{i}]");
        let url = WebhookUrl::parse(&webhook.url).map_err(|e| format!("{field}.url: {e}"))?;
        let events = EventFilter::parse(webhook.events.as_deref().unwrap_or_default())
            .map_err(|e| format!("{field}.events: {e}"))?;
        let secret = match &webhook.secret {
            Some(raw) => WebhookSecret::parse(raw).ok_or_else(|| {
                format!("{field}.secret: must be `whsec_` and 48 lowercase hex characters")
            })?,
            None => WebhookSecret::generate(),
        };
        out.webhooks.push((url, events, secret));
    }
    Ok(out)
}

/// `line N: ` for a span of `text`.
fn toml_line(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    span.map(|s| {
        let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
        format!("line {line}: ")
    })
    .unwrap_or_default()
}

fn toml_message(text: &str, e: &toml::de::Error) -> String {
    format!("{}{}", toml_line(text, e.span()), e.message())
}
