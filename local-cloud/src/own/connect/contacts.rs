//! Contacts: a voice call to a claimed number or a chat started with StartChatContact, with
//! what the flow did to it (the transcript, the contact attributes, the blocks it went through,
//! how it ended). Each contact is run by [`super::run`] in its own task; what the customer says
//! arrives on a channel (a voice call's scripted turns, a chat's SendMessage calls).

use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, watch};

/// The event that ends a chat's transcript.
pub const CHAT_ENDED: &str = "application/vnd.amazonaws.connect.event.chat.ended";

/// Who said something on a contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Speaker {
    /// A prompt of the flow (MessageParticipant, the Lex block's own prompt).
    Flow,
    /// A message of the Lex bot.
    Bot,
    /// The caller or chat customer.
    Customer,
}

impl Speaker {
    pub fn as_str(self) -> &'static str {
        match self {
            Speaker::Flow => "flow",
            Speaker::Bot => "bot",
            Speaker::Customer => "customer",
        }
    }
}

/// One line of the transcript: a message, or (chats) an event such as a participant joining.
#[derive(Debug, Clone)]
pub struct Line {
    pub id: String,
    pub speaker: Speaker,
    /// The message's text; for an event, empty.
    pub text: String,
    /// `text/plain` for a message, the event's content type for an event
    /// (`application/vnd.amazonaws.connect.event.participant.joined`, ...).
    pub content_type: String,
    /// The block that played it (none for what the customer said).
    pub block: Option<String>,
    /// Epoch seconds.
    pub at: f64,
}

/// How a contact ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Disposition {
    /// The flow disconnected it (DisconnectParticipant, EndFlowExecution, or a flow that ran out
    /// of actions), after this block.
    Disconnected { after: String },
    /// The customer hung up (or left the chat) while this block waited for them.
    CustomerLeft { during: String },
    /// Transferred to a queue, waiting for an agent.
    Queued {
        queue_arn: String,
        queue_name: String,
    },
    /// The flow could not go on (an action that is not there, a loop without end).
    FlowError { at: String, message: String },
    /// The call was not answered: no flow, or the flow is not published.
    NotAnswered { reason: String },
}

impl Disposition {
    pub fn to_json(&self) -> Value {
        match self {
            Disposition::Disconnected { after } => {
                json!({"state": "disconnected", "by": "flow", "after": after})
            }
            Disposition::CustomerLeft { during } => {
                json!({"state": "disconnected", "by": "customer", "during": during})
            }
            Disposition::Queued {
                queue_arn,
                queue_name,
            } => json!({"state": "queued", "queue_arn": queue_arn, "queue_name": queue_name}),
            Disposition::FlowError { at, message } => {
                json!({"state": "error", "at": at, "message": message})
            }
            Disposition::NotAnswered { reason } => json!({"state": "failed", "message": reason}),
        }
    }
}

/// A contact and everything the flow did to it.
#[derive(Debug, Clone)]
pub struct Contact {
    pub id: String,
    pub instance_id: String,
    pub instance_arn: String,
    pub region: String,
    /// VOICE or CHAT.
    pub channel: &'static str,
    /// INBOUND (a call) or API (StartChatContact).
    pub initiation: &'static str,
    /// The caller's number (voice); none on a chat.
    pub customer_address: Option<String>,
    /// The number called (voice); none on a chat.
    pub system_address: Option<String>,
    pub flow_id: String,
    pub flow_name: String,
    pub attributes: BTreeMap<String, String>,
    pub flow_attributes: BTreeMap<String, String>,
    /// The Lex block's results, read back as `$.Lex.*`.
    pub lex: Value,
    /// The last Lambda's answer, read back as `$.External.*`.
    pub external: Value,
    pub queue: Option<(String, String)>,
    pub language: String,
    pub voice: String,
    pub logging: bool,
    pub transcript: Vec<Line>,
    pub flow_log: Vec<Value>,
    pub disposition: Option<Disposition>,
    pub started: f64,
    pub ended: Option<f64>,
    /// The app id of the call that started the contact: fault rules with an `app` apply to it.
    pub app: Option<String>,
    /// A chat customer's display name and participant id.
    pub customer_name: Option<String>,
    pub customer_participant: Option<String>,
}

impl Contact {
    /// A new contact on `instance`, to run the flow `flow_id`.
    pub fn new(
        id: String,
        instance: &super::instances::Instance,
        channel: &'static str,
        initiation: &'static str,
        flow_id: String,
    ) -> Contact {
        Contact {
            id,
            instance_id: instance.id.clone(),
            instance_arn: instance.arn.clone(),
            region: instance.region.clone(),
            channel,
            initiation,
            customer_address: None,
            system_address: None,
            flow_id,
            flow_name: String::new(),
            attributes: BTreeMap::new(),
            flow_attributes: BTreeMap::new(),
            lex: Value::Object(Map::new()),
            external: Value::Object(Map::new()),
            queue: None,
            language: "en-US".into(),
            voice: "Joanna".into(),
            logging: false,
            transcript: Vec::new(),
            flow_log: Vec::new(),
            disposition: None,
            started: super::epoch_seconds(),
            ended: None,
            app: None,
            customer_name: None,
            customer_participant: None,
        }
    }

    /// An event of the chat (a participant joined or left, the chat ended).
    pub fn event(&mut self, speaker: Speaker, content_type: &str) {
        self.transcript.push(Line {
            id: super::uuid(),
            speaker,
            text: String::new(),
            content_type: content_type.to_string(),
            block: None,
            at: super::epoch_seconds(),
        });
    }

    /// The contact as a Lambda's event and the flow's JSONPaths see it (`ContactData`).
    pub fn contact_data(&self) -> Value {
        let endpoint = |a: &Option<String>| {
            a.as_ref().map_or(
                Value::Null,
                |a| json!({"Address": a, "Type": "TELEPHONE_NUMBER"}),
            )
        };
        json!({
            "Attributes": self.attributes,
            "Channel": self.channel,
            "ContactId": self.id,
            "CustomerEndpoint": endpoint(&self.customer_address),
            "InitialContactId": self.id,
            "InitiationMethod": self.initiation,
            "InstanceARN": self.instance_arn,
            "LanguageCode": self.language,
            "PreviousContactId": self.id,
            "Queue": self.queue.as_ref().map_or(Value::Null, |(arn, name)| json!({"ARN": arn, "Name": name})),
            "SystemEndpoint": endpoint(&self.system_address),
        })
    }

    /// What `$.` paths read: the contact data, the Lex results, the Lambda's answer, the flow
    /// attributes and the region.
    pub fn view(&self) -> Value {
        let mut view = self.contact_data();
        if let Some(o) = view.as_object_mut() {
            o.insert("Lex".into(), self.lex.clone());
            o.insert("External".into(), self.external.clone());
            o.insert("FlowAttributes".into(), json!(self.flow_attributes));
            o.insert("AwsRegion".into(), json!(self.region));
            o.insert("InstanceId".into(), json!(self.instance_id));
        }
        view
    }

    pub fn say(&mut self, speaker: Speaker, text: &str, block: Option<&str>) {
        self.transcript.push(Line {
            id: super::uuid(),
            speaker,
            text: text.to_string(),
            content_type: "text/plain".into(),
            block: block.map(str::to_string),
            at: super::epoch_seconds(),
        });
    }

    /// The control API's view of the contact.
    pub fn to_json(&self) -> Value {
        let transcript: Vec<Value> = self
            .transcript
            .iter()
            .filter(|l| l.content_type == "text/plain")
            .map(|l| {
                let mut v = json!({"speaker": l.speaker.as_str(), "text": l.text});
                if let Some(b) = &l.block {
                    v["block"] = json!(b);
                }
                v
            })
            .collect();
        let mut v = Map::new();
        v.insert("contact_id".into(), json!(self.id));
        v.insert("instance_id".into(), json!(self.instance_id));
        v.insert("channel".into(), json!(self.channel));
        v.insert("flow_id".into(), json!(self.flow_id));
        v.insert("flow_name".into(), json!(self.flow_name));
        v.insert("from".into(), json!(self.customer_address));
        v.insert("to".into(), json!(self.system_address));
        v.insert("transcript".into(), json!(transcript));
        v.insert("attributes".into(), json!(self.attributes));
        v.insert(
            "disposition".into(),
            self.disposition
                .as_ref()
                .map_or(json!({"state": "in_progress"}), Disposition::to_json),
        );
        v.insert("flow_log".into(), json!(self.flow_log));
        Value::Object(v)
    }
}

/// A contact being run, as the registry holds it.
pub struct Running {
    pub contact: Arc<Mutex<Contact>>,
    /// Where the customer's messages go (a chat's SendMessage); `None` once they left.
    pub input: Mutex<Option<mpsc::UnboundedSender<String>>>,
    /// Turns true when the contact has ended.
    pub done: watch::Receiver<bool>,
    /// The customer has left (hung up, DisconnectParticipant).
    pub left: std::sync::atomic::AtomicBool,
    /// How many times the flow has waited for the customer's next turn.
    pub asks: watch::Receiver<u64>,
    /// How many turns the customer has given it.
    pub sent: std::sync::atomic::AtomicU64,
}

impl Running {
    pub fn snapshot(&self) -> Contact {
        self.contact
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Waits until the contact has ended.
    pub async fn finished(&self) {
        let mut done = self.done.clone();
        while !*done.borrow_and_update() {
            if done.changed().await.is_err() {
                break;
            }
        }
    }

    /// Waits until the contact has ended or the flow waits for a turn the customer has not
    /// given yet (a caller's next turn is due).
    pub async fn settled(&self) {
        let mut done = self.done.clone();
        let mut asks = self.asks.clone();
        loop {
            if *done.borrow_and_update() || self.waiting() {
                return;
            }
            tokio::select! {
                changed = done.changed() => if changed.is_err() { return },
                changed = asks.changed() => if changed.is_err() { return },
            }
        }
    }

    /// The flow waits for a turn it has not been given.
    pub fn waiting(&self) -> bool {
        !*self.done.borrow()
            && *self.asks.borrow() > self.sent.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The contact as the control API shows it: [`Contact::to_json`] and whether the flow waits
    /// for the customer.
    pub fn to_json(&self) -> Value {
        let mut v = self.snapshot().to_json();
        v["waiting_for_customer"] = json!(self.waiting());
        v
    }

    /// The customer leaves: no more input.
    pub fn hang_up(&self) {
        self.input.lock().unwrap_or_else(|p| p.into_inner()).take();
    }

    pub fn customer_left(&self) -> bool {
        self.left.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// A chat customer's message: in the transcript now, and to the flow (which takes it as
    /// its next input; a queued chat keeps it for the agent). Its id and time.
    pub fn customer_says(&self, text: &str) -> (String, f64) {
        let (id, at) = {
            let mut c = self.contact.lock().unwrap_or_else(|p| p.into_inner());
            c.say(Speaker::Customer, text, None);
            let line = c.transcript.last().map(|l| (l.id.clone(), l.at));
            line.unwrap_or_default()
        };
        self.send(text.to_string());
        (id, at)
    }

    /// A chat customer leaves: the flow gets no more input, and a chat waiting in a queue ends.
    pub fn customer_leaves(&self) {
        self.left.store(true, std::sync::atomic::Ordering::SeqCst);
        {
            let mut c = self.contact.lock().unwrap_or_else(|p| p.into_inner());
            c.event(
                Speaker::Customer,
                "application/vnd.amazonaws.connect.event.participant.left",
            );
            if matches!(c.disposition, Some(Disposition::Queued { .. })) {
                c.event(Speaker::Flow, CHAT_ENDED);
                c.ended = Some(super::epoch_seconds());
            }
        }
        self.hang_up();
    }

    /// Sends what the customer says; false when they already left.
    pub fn send(&self, text: String) -> bool {
        let sent = self
            .input
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|tx| tx.send(text).is_ok());
        if sent {
            self.sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        sent
    }
}

/// A chat customer's connection: the participant token StartChatContact gave, and the
/// connection token CreateParticipantConnection gives for it.
#[derive(Debug, Clone)]
pub struct Participant {
    pub contact_id: String,
    pub participant_id: String,
    pub connection_token: Option<String>,
}

/// Every contact of one emulator, by id, and the chat participants by participant token.
#[derive(Default)]
pub struct Contacts {
    map: Mutex<BTreeMap<String, Arc<Running>>>,
    participants: Mutex<BTreeMap<String, Participant>>,
}

impl Contacts {
    pub fn add_participant(&self, token: String, participant: Participant) {
        self.participants
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(token, participant);
    }

    /// The participant a participant token names.
    pub fn by_participant_token(&self, token: &str) -> Option<Participant> {
        self.participants
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(token)
            .cloned()
    }

    /// The participant a connection token names.
    pub fn by_connection_token(&self, token: &str) -> Option<Participant> {
        self.participants
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .find(|p| p.connection_token.as_deref() == Some(token))
            .cloned()
    }

    /// Gives the participant of `participant_token` a connection token (the same one on every
    /// call, as long as the chat lasts).
    pub fn connect(
        &self,
        participant_token: &str,
        make: impl FnOnce() -> String,
    ) -> Option<String> {
        let mut map = self.participants.lock().unwrap_or_else(|p| p.into_inner());
        let p = map.get_mut(participant_token)?;
        Some(p.connection_token.get_or_insert_with(make).clone())
    }

    pub fn insert(&self, id: String, running: Arc<Running>) {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, running);
    }

    pub fn get(&self, id: &str) -> Option<Arc<Running>> {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }
}
