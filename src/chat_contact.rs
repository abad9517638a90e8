//! A chat contact through the stack's flow, for `resetpw call` against AWS (a smoke test after
//! `up`): StartChatContact on the stack's instance and flow, then the Amazon Connect Participant
//! Service as the chat customer (CreateParticipantConnection with CONNECTION_CREDENTIALS,
//! SendMessage per turn, GetTranscript), DescribeContact for where the contact ended (its queue,
//! or its disconnect), and DisconnectParticipant at the end, so that no test chat is left
//! waiting for an agent.
//!
//! A chat has no push channel here (no WebSocket), so the transcript is polled: the line has
//! answered a turn when nothing new came for [`QUIET`], or the chat ended, or the contact was
//! queued. A chat has no caller number: a reset that checks the caller ID ends queued.

use crate::aws::{ApiError, Cx};
use crate::call::{Contact, End, Speaker};
use anyhow::Context as _;
use aws_sdk_connect::types::ParticipantDetails;
use aws_sdk_connectparticipant::types::{ConnectionType, ScanDirection, SortKey};
use std::time::{Duration, Instant};

/// No new transcript item for this long: the line waits for the customer.
const QUIET: Duration = Duration::from_millis(1500);
/// How often the transcript is read.
const POLL: Duration = Duration::from_millis(300);
/// The longest wait for the line to answer one turn.
const TURN_LIMIT: Duration = Duration::from_secs(60);
const CHAT_ENDED: &str = "application/vnd.amazonaws.connect.event.chat.ended";

/// The transcript so far: (role, display name, type, content type, content) in time order.
type Items = Vec<(String, String, String, String, String)>;

struct Chat<'a> {
    cx: &'a Cx,
    participant: aws_sdk_connectparticipant::Client,
    instance: String,
    contact: String,
    connection: String,
}

impl Chat<'_> {
    async fn transcript(&self) -> anyhow::Result<Items> {
        let mut items = Items::new();
        let mut next: Option<String> = None;
        loop {
            let page = self
                .participant
                .get_transcript()
                .connection_token(&self.connection)
                .scan_direction(ScanDirection::Forward)
                .sort_order(SortKey::Ascending)
                .max_results(100)
                .set_next_token(next.clone())
                .send()
                .await
                .map_err(ApiError::from)
                .context("GetTranscript")?;
            for i in page.transcript() {
                items.push((
                    i.participant_role().map_or("", |r| r.as_str()).to_string(),
                    i.display_name().unwrap_or_default().to_string(),
                    i.r#type().map_or("", |t| t.as_str()).to_string(),
                    i.content_type().unwrap_or_default().to_string(),
                    i.content().unwrap_or_default().to_string(),
                ));
            }
            next = page.next_token().map(str::to_string);
            if next.is_none() {
                return Ok(items);
            }
        }
    }

    /// Where the contact is: queued (its queue id), ended, or still in the flow.
    async fn state(&self) -> anyhow::Result<Option<End>> {
        let out = self
            .cx
            .connect
            .describe_contact()
            .instance_id(&self.instance)
            .contact_id(&self.contact)
            .send()
            .await
            .map_err(ApiError::from)
            .context("DescribeContact")?;
        let c = out.contact();
        if let Some(q) = c.and_then(|c| c.queue_info()).and_then(|q| q.id()) {
            return Ok(Some(End::Queued(q.to_string())));
        }
        Ok(c.and_then(|c| c.disconnect_timestamp())
            .map(|_| End::Disconnected(None)))
    }

    /// Waits until the line has answered: quiet, queued or ended. The contact's end, if it
    /// ended.
    async fn settle(&self) -> anyhow::Result<(Items, Option<End>)> {
        let started = Instant::now();
        let mut seen = self.transcript().await?;
        let mut changed = Instant::now();
        loop {
            if seen.iter().any(|i| i.3 == CHAT_ENDED) {
                return Ok((seen, Some(End::Disconnected(None))));
            }
            if let Some(end) = self.state().await? {
                return Ok((seen, Some(end)));
            }
            if changed.elapsed() >= QUIET || started.elapsed() >= TURN_LIMIT {
                return Ok((seen, None));
            }
            tokio::time::sleep(POLL).await;
            let now = self.transcript().await?;
            if now.len() != seen.len() {
                seen = now;
                changed = Instant::now();
            }
        }
    }
}

pub async fn run(cx: &Cx, instance: &str, flow: &str, say: &[String]) -> anyhow::Result<Contact> {
    let started = cx
        .connect
        .start_chat_contact()
        .instance_id(instance)
        .contact_flow_id(flow)
        .participant_details(
            ParticipantDetails::builder()
                .display_name("resetpw call")
                .build()
                .context("ParticipantDetails")?,
        )
        .send()
        .await
        .map_err(ApiError::from)
        .context("StartChatContact")?;
    let contact = started.contact_id().unwrap_or_default().to_string();
    let token = started.participant_token().unwrap_or_default().to_string();
    let participant = cx.participant.clone();
    let connection = participant
        .create_participant_connection()
        .participant_token(&token)
        .r#type(ConnectionType::ConnectionCredentials)
        .connect_participant(true)
        .send()
        .await
        .map_err(ApiError::from)
        .context("CreateParticipantConnection")?;
    let connection = connection
        .connection_credentials()
        .and_then(|c| c.connection_token())
        .unwrap_or_default()
        .to_string();
    let chat = Chat {
        cx,
        participant,
        instance: instance.to_string(),
        contact: contact.clone(),
        connection,
    };
    let (mut items, mut end) = chat.settle().await?;
    for turn in say {
        if end.is_some() {
            break;
        }
        chat.participant
            .send_message()
            .connection_token(&chat.connection)
            .content_type("text/plain")
            .content(turn)
            .send()
            .await
            .map_err(ApiError::from)
            .context("SendMessage")?;
        (items, end) = chat.settle().await?;
    }
    // The customer leaves: a chat still in the flow ends, a queued one leaves the queue.
    if !matches!(end, Some(End::Disconnected(_))) {
        chat.participant
            .disconnect_participant()
            .connection_token(&chat.connection)
            .send()
            .await
            .map_err(ApiError::from)
            .context("DisconnectParticipant")?;
    }
    let mut transcript: Vec<(Speaker, String)> = items
        .into_iter()
        .filter(|i| i.2 == "MESSAGE")
        .map(|(role, name, _, _, content)| {
            let speaker = match (role.as_str(), name.as_str()) {
                ("CUSTOMER", _) => Speaker::Caller,
                (_, "BOT") => Speaker::Bot,
                _ => Speaker::Flow,
            };
            (speaker, content)
        })
        .collect();
    crate::call::hide_codes(&mut transcript);
    Ok(Contact {
        channel: "chat",
        contact_id: contact,
        transcript,
        end: end.unwrap_or(End::CallerLeft),
        attributes: Default::default(),
    })
}
