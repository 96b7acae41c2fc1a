//! Drafts: a message written but not sent yet. A draft may be unfinished; once it is scheduled
//! (`sendAt`) or sent it must be a complete send. A draft that `requiresApproval` is sent only
//! by someone who may approve it (a key with the `approve` scope, or the operator), or by the
//! background once it has been approved.

use std::time::Duration;

use super::ids::{AccountId, ApiKeyId, AttachmentId, DraftId, InboxId, MessageId, ThreadId};
use super::outbound::{SendFields, SendRequest};
use super::time::Timestamp;
use super::{Refusal, ValidationErrors};

/// How far ahead a send may be scheduled.
pub const MAX_SCHEDULE_AHEAD: Duration = Duration::from_secs(30 * 86_400);

/// Where a draft is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DraftStatus {
    /// Being written; nothing will send it by itself.
    Draft,
    /// To be sent at its `send_at` (once approved, when it needs approval).
    Scheduled,
    /// Sent: its message is `message_id`.
    Sent,
    /// Its scheduled send was refused (`error_message` says why); a new `sendAt` tries again.
    Failed,
}

impl DraftStatus {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            DraftStatus::Draft => "draft",
            DraftStatus::Scheduled => "scheduled",
            DraftStatus::Sent => "sent",
            DraftStatus::Failed => "failed",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            DraftStatus::Draft,
            DraftStatus::Scheduled,
            DraftStatus::Sent,
            DraftStatus::Failed,
        ]
        .into_iter()
        .find(|d| d.as_str() == s)
    }
}

/// A time to send at: in the future, at most [`MAX_SCHEDULE_AHEAD`] away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendAt(Timestamp);

impl SendAt {
    /// Reads an RFC 3339 date-time and checks it against `now`.
    pub fn parse(raw: &str, now: Timestamp) -> Result<Self, String> {
        let at = Timestamp::parse_rfc3339(raw).ok_or_else(|| {
            "must be an RFC 3339 date-time such as 2026-12-01T09:30:00Z".to_owned()
        })?;
        if at <= now {
            return Err("must be in the future".to_owned());
        }
        if at > now.plus(MAX_SCHEDULE_AHEAD) {
            return Err("must be at most 30 days ahead".to_owned());
        }
        Ok(Self(at))
    }

    /// The time.
    pub fn at(self) -> Timestamp {
        self.0
    }
}

/// Who approved a draft.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approver {
    /// A request with this API key (one with the `approve` scope).
    Key(ApiKeyId),
    /// The operator, on the command line.
    Operator,
}

impl Approver {
    /// The stored and wire form: the key's id, or `operator`.
    pub fn as_string(self) -> String {
        match self {
            Approver::Key(id) => id.to_string(),
            Approver::Operator => "operator".to_owned(),
        }
    }

    /// Reads the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "operator" => Some(Approver::Operator),
            id => id.parse().ok().map(Approver::Key),
        }
    }
}

/// A draft's fields as a request gives them: absent (`None`) leaves a field as it is, `null`
/// (`Some(None)`, or an empty list) clears it.
#[derive(Debug, Clone, Default)]
pub struct DraftInput {
    /// `to`
    pub to: Option<Vec<String>>,
    /// `cc`
    pub cc: Option<Vec<String>>,
    /// `bcc`
    pub bcc: Option<Vec<String>>,
    /// `subject`
    pub subject: Option<Option<String>>,
    /// `bodyText`
    pub body_text: Option<Option<String>>,
    /// `bodyHtml`
    pub body_html: Option<Option<String>>,
    /// `threadId`
    pub thread_id: Option<Option<ThreadId>>,
    /// `attachmentIds`
    pub attachment_ids: Option<Vec<AttachmentId>>,
    /// `sendAt`, RFC 3339; `null` cancels the schedule.
    pub send_at: Option<Option<String>>,
    /// `requiresApproval`
    pub requires_approval: Option<bool>,
}

/// A valid change to a draft (or a new draft's fields): each present field follows the rules
/// of a send, and `sendAt` is in the next 30 days.
#[derive(Debug, Clone, Default)]
pub struct DraftEdit {
    content: DraftInput,
    send_at: Option<Option<SendAt>>,
    requires_approval: Option<bool>,
}

impl DraftEdit {
    /// Checks every present field; `now` is what `sendAt` is checked against.
    pub fn parse(input: DraftInput, now: Timestamp) -> Result<Self, ValidationErrors> {
        let present = SendFields {
            to: input.to.clone(),
            cc: input.cc.clone(),
            bcc: input.bcc.clone(),
            subject: input.subject.clone().flatten(),
            body_text: input.body_text.clone().flatten(),
            body_html: input.body_html.clone().flatten(),
            thread_id: input.thread_id.flatten(),
            attachment_ids: input.attachment_ids.clone(),
        };
        let mut errors = SendRequest::check_present(present)
            .err()
            .unwrap_or_default();
        let send_at = match &input.send_at {
            None => None,
            Some(None) => Some(None),
            Some(Some(raw)) => errors.check("sendAt", SendAt::parse(raw, now)).map(Some),
        };
        let requires_approval = input.requires_approval;
        errors.into_result(Self {
            content: DraftInput {
                send_at: None,
                requires_approval: None,
                ..input
            },
            send_at,
            requires_approval,
        })
    }

    /// Whether it changes what would be sent (which takes an approval away).
    fn changes_content(&self) -> bool {
        let c = &self.content;
        c.to.is_some()
            || c.cc.is_some()
            || c.bcc.is_some()
            || c.subject.is_some()
            || c.body_text.is_some()
            || c.body_html.is_some()
            || c.thread_id.is_some()
            || c.attachment_ids.is_some()
    }
}

/// A draft.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// Id.
    pub id: DraftId,
    /// Owner.
    pub account_id: AccountId,
    /// The inbox it is sent from.
    pub inbox_id: InboxId,
    /// The key that created it: a scheduled send acts as it.
    pub created_by: ApiKeyId,
    /// What would be sent (lists empty and texts `None` where not written yet).
    pub content: SendFields,
    /// When to send it.
    pub send_at: Option<Timestamp>,
    /// Whether only an approver may release it.
    pub requires_approval: bool,
    /// When its current content was approved.
    pub approved_at: Option<Timestamp>,
    /// Who approved it.
    pub approved_by: Option<Approver>,
    /// Where it is.
    pub status: DraftStatus,
    /// The message it became.
    pub message_id: Option<MessageId>,
    /// Why its scheduled send was refused.
    pub error_message: Option<String>,
    /// Counts its changes, so that a send composed from one version never records another.
    pub revision: i64,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

impl Draft {
    /// A new, empty draft of `inbox_id`, created with `key`.
    pub fn new(
        account_id: AccountId,
        inbox_id: InboxId,
        created_by: ApiKeyId,
        now: Timestamp,
    ) -> Self {
        Self {
            id: DraftId::new(),
            account_id,
            inbox_id,
            created_by,
            content: SendFields {
                to: Some(Vec::new()),
                cc: Some(Vec::new()),
                bcc: Some(Vec::new()),
                attachment_ids: Some(Vec::new()),
                ..SendFields::default()
            },
            send_at: None,
            requires_approval: false,
            approved_at: None,
            approved_by: None,
            status: DraftStatus::Draft,
            message_id: None,
            error_message: None,
            revision: 0,
            created_at: now,
            updated_at: now,
        }
    }

    /// Applies `edit`. Turning `requiresApproval` off needs `may_approve`; changing the content
    /// takes an approval away (it was given to the content as it was); a new `sendAt` schedules
    /// it again, `null` cancels the schedule. A scheduled draft must be a complete send.
    pub fn edit(
        &mut self,
        edit: DraftEdit,
        may_approve: bool,
        now: Timestamp,
    ) -> Result<(), Refusal> {
        self.refuse_if_sent()?;
        if self.requires_approval && edit.requires_approval == Some(false) && !may_approve {
            return Err(Refusal::ApprovalRequired);
        }
        if edit.changes_content() {
            self.approved_at = None;
            self.approved_by = None;
        }
        let DraftEdit {
            content: c,
            send_at,
            requires_approval,
        } = edit;
        let f = &mut self.content;
        for (field, value) in [(&mut f.to, c.to), (&mut f.cc, c.cc), (&mut f.bcc, c.bcc)] {
            if let Some(list) = value {
                *field = Some(list);
            }
        }
        for (field, value) in [
            (&mut f.subject, c.subject),
            (&mut f.body_text, c.body_text),
            (&mut f.body_html, c.body_html),
        ] {
            if let Some(text) = value {
                *field = text;
            }
        }
        if let Some(thread) = c.thread_id {
            f.thread_id = thread;
        }
        if let Some(ids) = c.attachment_ids {
            f.attachment_ids = Some(ids);
        }
        if let Some(required) = requires_approval {
            self.requires_approval = required;
        }
        match send_at {
            Some(Some(at)) => {
                self.send_at = Some(at.at());
                self.status = DraftStatus::Scheduled;
                self.error_message = None;
            }
            Some(None) => {
                self.send_at = None;
                if self.status == DraftStatus::Scheduled {
                    self.status = DraftStatus::Draft;
                }
            }
            None => {}
        }
        if self.status == DraftStatus::Scheduled {
            self.request().map_err(Refusal::Invalid)?;
        }
        self.changed(now);
        Ok(())
    }

    /// Records an approval of the current content and releases the draft: it is sent at its
    /// `send_at`, or at once when it has none or that time has passed.
    pub fn approve(&mut self, by: Approver, now: Timestamp) -> Result<(), Refusal> {
        self.refuse_if_sent()?;
        self.request().map_err(Refusal::Invalid)?;
        self.approved_at = Some(now);
        self.approved_by = Some(by);
        if self.status != DraftStatus::Scheduled {
            self.status = DraftStatus::Scheduled;
            self.send_at = Some(self.send_at.filter(|at| *at > now).unwrap_or(now));
            self.error_message = None;
        }
        self.changed(now);
        Ok(())
    }

    /// The send it makes, when it is complete.
    pub fn request(&self) -> Result<SendRequest, ValidationErrors> {
        SendRequest::parse(self.content.clone())
    }

    /// Checks that a caller may send it now: not sent yet, and approved unless the caller may
    /// approve it (`may_approve`, which then counts as the approval).
    pub fn may_send(&self, may_approve: bool) -> Result<(), Refusal> {
        self.refuse_if_sent()?;
        if self.requires_approval && self.approved_at.is_none() && !may_approve {
            return Err(Refusal::ApprovalRequired);
        }
        Ok(())
    }

    /// When the background sends it: scheduled, and approved if it needs to be.
    pub fn due(&self, now: Timestamp) -> Option<Timestamp> {
        let released = !self.requires_approval || self.approved_at.is_some();
        match (self.status, self.send_at) {
            (DraftStatus::Scheduled, Some(at)) if released => Some(at.max(now)),
            _ => None,
        }
    }

    /// Records that it became `message`, sent by `by` (who approved it, if it needed that and
    /// was not approved yet).
    pub fn sent(&mut self, message: MessageId, by: Option<Approver>, now: Timestamp) {
        if self.requires_approval && self.approved_at.is_none() {
            self.approved_at = Some(now);
            self.approved_by = by;
        }
        self.status = DraftStatus::Sent;
        self.message_id = Some(message);
        self.error_message = None;
        self.changed(now);
    }

    /// Records that its scheduled send was refused, and why.
    pub fn failed(&mut self, why: String, now: Timestamp) {
        self.status = DraftStatus::Failed;
        self.error_message = Some(why);
        self.changed(now);
    }

    fn refuse_if_sent(&self) -> Result<(), Refusal> {
        if self.status == DraftStatus::Sent {
            Err(Refusal::DraftAlreadySent)
        } else {
            Ok(())
        }
    }

    fn changed(&mut self, now: Timestamp) {
        self.revision += 1;
        self.updated_at = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    fn now() -> Timestamp {
        Timestamp::from_millis(1_800_000_000_000)
    }

    fn draft() -> Draft {
        Draft::new(AccountId::new(), InboxId::new(), ApiKeyId::new(), now())
    }

    fn edit(input: DraftInput) -> DraftEdit {
        DraftEdit::parse(input, now()).unwrap()
    }

    fn complete() -> DraftInput {
        DraftInput {
            to: Some(vec!["ada@example.com".to_owned()]),
            subject: Some(Some("Hi".to_owned())),
            ..DraftInput::default()
        }
    }

    fn at(t: Timestamp) -> Option<Option<String>> {
        Some(Some(t.to_string()))
    }

    #[test]
    fn send_times_are_in_the_next_thirty_days() {
        assert!(SendAt::parse(&now().plus(HOUR).to_string(), now()).is_ok());
        assert!(SendAt::parse(&now().plus(MAX_SCHEDULE_AHEAD).to_string(), now()).is_ok());
        for bad in [
            now().to_string(),
            now().minus(HOUR).to_string(),
            now().plus(MAX_SCHEDULE_AHEAD + HOUR).to_string(),
            "tomorrow".to_owned(),
        ] {
            assert!(SendAt::parse(&bad, now()).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_unfinished_draft_is_fine_until_it_is_scheduled() {
        let mut d = draft();
        d.edit(edit(DraftInput::default()), false, now()).unwrap();
        assert_eq!(d.status, DraftStatus::Draft);
        let bad = DraftEdit::parse(
            DraftInput {
                to: Some(vec!["not an address".to_owned()]),
                ..DraftInput::default()
            },
            now(),
        );
        assert!(bad.unwrap_err().fields().contains_key("to"));
        let scheduled = DraftInput {
            send_at: at(now().plus(HOUR)),
            ..DraftInput::default()
        };
        let e = d.edit(edit(scheduled.clone()), false, now()).unwrap_err();
        assert!(matches!(e, Refusal::Invalid(e) if e.fields().contains_key("to")));
        d.edit(edit(complete()), false, now()).unwrap();
        d.edit(edit(scheduled), false, now()).unwrap();
        assert_eq!(d.status, DraftStatus::Scheduled);
        assert_eq!(d.due(now()), Some(now().plus(HOUR)));
        let cancel = DraftInput {
            send_at: Some(None),
            ..DraftInput::default()
        };
        d.edit(edit(cancel), false, now()).unwrap();
        assert_eq!((d.status, d.due(now())), (DraftStatus::Draft, None));
    }

    #[test]
    fn approval_releases_the_content_it_saw_and_only_an_approver_lifts_the_need() {
        let mut d = draft();
        let input = DraftInput {
            requires_approval: Some(true),
            send_at: at(now().plus(HOUR)),
            ..complete()
        };
        d.edit(edit(input), false, now()).unwrap();
        assert_eq!(d.due(now()), None, "not approved yet");
        assert!(matches!(d.may_send(false), Err(Refusal::ApprovalRequired)));
        assert!(d.may_send(true).is_ok());
        let lift = DraftInput {
            requires_approval: Some(false),
            ..DraftInput::default()
        };
        assert!(matches!(
            d.edit(edit(lift), false, now()),
            Err(Refusal::ApprovalRequired)
        ));
        d.approve(Approver::Operator, now()).unwrap();
        assert_eq!(d.due(now()), Some(now().plus(HOUR)));
        let reword = DraftInput {
            subject: Some(Some("Changed".to_owned())),
            ..DraftInput::default()
        };
        d.edit(edit(reword), false, now()).unwrap();
        assert_eq!(d.approved_at, None);
        assert_eq!(d.due(now()), None);
    }

    #[test]
    fn approving_an_unscheduled_draft_sends_it_now_and_a_sent_one_is_final() {
        let mut d = draft();
        assert!(matches!(
            d.approve(Approver::Operator, now()),
            Err(Refusal::Invalid(_))
        ));
        d.edit(edit(complete()), false, now()).unwrap();
        d.approve(Approver::Operator, now()).unwrap();
        assert_eq!(d.due(now()), Some(now()));
        d.sent(MessageId::new(), None, now());
        assert!(matches!(
            d.edit(edit(complete()), true, now()),
            Err(Refusal::DraftAlreadySent)
        ));
        assert!(matches!(d.may_send(true), Err(Refusal::DraftAlreadySent)));
        assert_eq!(Approver::parse("operator"), Some(Approver::Operator));
    }
}
