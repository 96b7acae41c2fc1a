//! Sandbox accounts: what an auto-provisioned account may do before a person
//! claims it. Every refusal is a [`ClaimRequired`] naming the limit and what a claim unlocks.

use std::sync::Arc;
use std::time::Duration;

use super::Timestamp;
use super::account::{Account, Plan};
use super::links::ClaimLinks;

/// The limits of a sandbox account (configurable; the hosted service's defaults: 1 inbox, 50 sends in total,
/// 7 days, recipients only inboxes on this server, no webhooks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxLimits {
    /// Inboxes it may create.
    pub max_inboxes: u64,
    /// Messages it may send, ever.
    pub max_sends: u64,
    /// How long after creation it may create anything.
    pub lifetime: Duration,
    /// Whether it may send to addresses that are not inboxes on this server.
    pub external_recipients: bool,
    /// Whether it may create webhooks.
    pub webhooks: bool,
    /// Whether it may add custom domains.
    pub custom_domains: bool,
}

/// What a sandbox account tries to do, with what the check needs to know.
#[derive(Debug, Clone, Copy)]
pub enum Attempt<'a> {
    /// Create an inbox, having created `existing` before (deleted ones count: a sandbox does
    /// not get a new address by deleting its inbox).
    CreateInbox {
        /// Inboxes it created.
        existing: u64,
    },
    /// Send a message, having sent `sent` before; `external` is a recipient that is not an
    /// inbox on this server, if any.
    Send {
        /// Messages accepted before this one.
        sent: u64,
        /// A recipient outside this server.
        external: Option<&'a str>,
    },
    /// Create a webhook.
    CreateWebhook,
    /// Add a custom domain.
    CreateDomain,
}

/// A refusal: `402 CLAIM_REQUIRED`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{reason} Claim the account (open claim_url) to lift the sandbox limits: any number of inboxes and sends within the daily limit, any recipient, webhooks and custom domains."
)]
pub struct ClaimRequired {
    /// Which limit was reached.
    pub reason: String,
    /// Where a person claims the account.
    pub claim_url: String,
}

/// The limits and where to send people to lift them: what [`crate::limits`] checks sandbox
/// accounts against.
#[derive(Debug, Clone)]
pub struct SandboxPolicy {
    /// The limits.
    pub limits: SandboxLimits,
    /// Claim links.
    pub claims: Arc<ClaimLinks>,
}

impl SandboxPolicy {
    /// Whether a send by an account on `plan` is refused for recipients outside this server
    /// (so that they must be looked up).
    pub fn limits_recipients(&self, plan: Plan) -> bool {
        plan == Plan::Sandbox && !self.limits.external_recipients
    }

    /// [`SandboxLimits::check`], with the account's claim link on a refusal.
    pub fn check(
        &self,
        account: &Account,
        now: Timestamp,
        attempt: Attempt<'_>,
    ) -> Result<(), ClaimRequired> {
        self.limits
            .check(account, now, attempt)
            .map_err(|reason| ClaimRequired {
                reason,
                claim_url: self.claims.url(account.id),
            })
    }
}

impl SandboxLimits {
    /// When a sandbox created at `created_at` stops being usable.
    pub fn expires_at(&self, created_at: Timestamp) -> Timestamp {
        created_at.plus(self.lifetime)
    }

    /// Whether `account` may make `attempt` at `now` (accounts other than sandboxes always
    /// may); a refusal says which limit was reached.
    pub fn check(
        &self,
        account: &Account,
        now: Timestamp,
        attempt: Attempt<'_>,
    ) -> Result<(), String> {
        if account.plan != Plan::Sandbox {
            return Ok(());
        }
        let refuse = Err;
        if now >= self.expires_at(account.created_at) {
            return refuse(format!(
                "This sandbox account expired on {} ({} days after it was created).",
                self.expires_at(account.created_at),
                self.lifetime.as_secs() / 86_400
            ));
        }
        match attempt {
            Attempt::CreateInbox { existing } if existing >= self.max_inboxes => refuse(format!(
                "A sandbox account can have {} inbox{}.",
                self.max_inboxes,
                if self.max_inboxes == 1 { "" } else { "es" }
            )),
            Attempt::Send { sent, .. } if sent >= self.max_sends => refuse(format!(
                "A sandbox account can send {} messages in total.",
                self.max_sends
            )),
            Attempt::Send {
                external: Some(address),
                ..
            } if !self.external_recipients => refuse(format!(
                "A sandbox account can only send to inboxes on this server; {address} is not one."
            )),
            Attempt::CreateWebhook if !self.webhooks => {
                refuse("A sandbox account cannot have webhooks.".to_owned())
            }
            Attempt::CreateDomain if !self.custom_domains => {
                refuse("A sandbox account cannot add custom domains.".to_owned())
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> SandboxLimits {
        SandboxLimits {
            max_inboxes: 1,
            max_sends: 50,
            lifetime: Duration::from_secs(7 * 86_400),
            external_recipients: false,
            webhooks: false,
            custom_domains: false,
        }
    }

    fn account(plan: Plan) -> Account {
        Account {
            id: super::super::AccountId::new(),
            name: "n".to_owned(),
            email: "e@example.com".to_owned(),
            plan,
            daily_send_limit: 50,
            is_verified: false,
            created_at: Timestamp::from_millis(0),
        }
    }

    #[test]
    fn a_sandbox_stops_at_each_limit_and_a_claimed_account_never_does() {
        let l = limits();
        let now = Timestamp::from_millis(1000);
        let sandbox = account(Plan::Sandbox);
        let ok = |a: Attempt<'_>| l.check(&sandbox, now, a).is_ok();
        assert!(ok(Attempt::CreateInbox { existing: 0 }));
        assert!(!ok(Attempt::CreateInbox { existing: 1 }));
        assert!(ok(Attempt::Send {
            sent: 49,
            external: None
        }));
        assert!(!ok(Attempt::Send {
            sent: 50,
            external: None
        }));
        assert!(!ok(Attempt::Send {
            sent: 0,
            external: Some("x@example.com")
        }));
        assert!(!ok(Attempt::CreateWebhook));
        assert!(!ok(Attempt::CreateDomain));
        let week = Timestamp::from_millis(7 * 86_400_000);
        let policy = SandboxPolicy {
            limits: l.clone(),
            claims: Arc::new(ClaimLinks::new("http://h", vec![0; 32])),
        };
        let e = policy
            .check(&sandbox, week, Attempt::CreateInbox { existing: 0 })
            .unwrap_err();
        assert!(e.to_string().contains("expired"), "{e}");
        assert!(e.to_string().contains("claim_url"), "{e}");
        assert!(e.claim_url.starts_with("http://h/claim/"), "{e:?}");

        let free = account(Plan::Free);
        for attempt in [
            Attempt::CreateInbox { existing: 9 },
            Attempt::Send {
                sent: 1000,
                external: Some("x@example.com"),
            },
            Attempt::CreateWebhook,
            Attempt::CreateDomain,
        ] {
            assert!(l.check(&free, week, attempt).is_ok());
        }
    }
}
