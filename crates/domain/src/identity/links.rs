//! Where the emails of the one-time-token flows send people.
//!
//! A front end has a page for each flow (verify an address, reset a password,
//! confirm a new address, accept an invitation). With `APP_URL` (or a template of
//! its own per flow) configured, each email carries a link to that page with the
//! token in the link's fragment, which browsers never send to any server, so it
//! reaches no access log. Without one, the email says which API operation takes
//! the token. The token is always in the email on a line of its own, for people
//! who type it.

/// A flow whose email carries a one-time token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Confirm the address given at sign-up.
    VerifyEmail,
    /// Choose a new password.
    ResetPassword,
    /// Confirm a new address for the account.
    ConfirmEmailChange,
    /// Accept an invitation to a clinic.
    AcceptInvitation,
    /// Enrol as a platform operator.
    OperatorEnrolment,
}

impl Flow {
    /// Every flow.
    pub const ALL: [Flow; 5] = [
        Flow::VerifyEmail,
        Flow::ResetPassword,
        Flow::ConfirmEmailChange,
        Flow::AcceptInvitation,
        Flow::OperatorEnrolment,
    ];

    /// The front end's page for this flow, below `APP_URL`.
    pub fn page(self) -> &'static str {
        match self {
            Flow::VerifyEmail => "/verify-email",
            Flow::ResetPassword => "/reset-password",
            Flow::ConfirmEmailChange => "/confirm-email-change",
            Flow::AcceptInvitation => "/accept-invitation",
            Flow::OperatorEnrolment => "/operator-enrolment",
        }
    }

    /// The API operation that takes the token.
    pub fn api_path(self) -> &'static str {
        match self {
            Flow::VerifyEmail => "/api/v1/auth/verify-email",
            Flow::ResetPassword => "/api/v1/auth/password-reset/confirm",
            Flow::ConfirmEmailChange => "/api/v1/auth/email-change/confirm",
            Flow::AcceptInvitation => "/api/v1/invitations/accept",
            Flow::OperatorEnrolment => "/api/v1/platform/enrolment",
        }
    }

    /// The name of the variable that overrides this flow's link template.
    pub fn template_variable(self) -> &'static str {
        match self {
            Flow::VerifyEmail => "LINK_VERIFY_EMAIL",
            Flow::ResetPassword => "LINK_RESET_PASSWORD",
            Flow::ConfirmEmailChange => "LINK_CONFIRM_EMAIL_CHANGE",
            Flow::AcceptInvitation => "LINK_ACCEPT_INVITATION",
            Flow::OperatorEnrolment => "LINK_OPERATOR_ENROLMENT",
        }
    }
}

/// The placeholder a link template puts the token in.
pub const TOKEN_PLACEHOLDER: &str = "{token}";

/// Link templates per flow (each holds [`TOKEN_PLACEHOLDER`] once), or none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Links {
    templates: Vec<(Flow, String)>,
    api_url: String,
}

impl Links {
    /// Links to the front end at `app_url` (`{app_url}/verify-email#token=...`),
    /// with per-flow overrides; `api_url` names the API in emails without a link.
    pub fn new(api_url: &str, app_url: Option<&str>, overrides: &[(Flow, String)]) -> Self {
        let templates = Flow::ALL
            .into_iter()
            .filter_map(|flow| {
                let own = overrides
                    .iter()
                    .find(|(f, _)| *f == flow)
                    .map(|(_, t)| t.clone());
                let derived = app_url.map(|base| {
                    format!(
                        "{}{}#token={TOKEN_PLACEHOLDER}",
                        base.trim_end_matches('/'),
                        flow.page()
                    )
                });
                own.or(derived).map(|template| (flow, template))
            })
            .collect();
        Self {
            templates,
            api_url: api_url.trim_end_matches('/').to_owned(),
        }
    }

    /// The link for a token, when the flow has a page.
    pub fn link(&self, flow: Flow, token: &str) -> Option<String> {
        self.templates
            .iter()
            .find(|(f, _)| *f == flow)
            .map(|(_, template)| template.replace(TOKEN_PLACEHOLDER, token))
    }

    /// The email's lines after the token: the link to open, or the operation to call.
    pub fn instruction(&self, flow: Flow, token: &str) -> String {
        match self.link(flow, token) {
            Some(link) => format!("Open this link to continue:\n\n{link}\n"),
            None => format!("POST it to {}{}.\n", self.api_url, flow.api_path()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Flow, Links};

    #[test]
    fn links_carry_the_token_in_the_fragment_and_overrides_win() {
        let links = Links::new(
            "https://api.test",
            Some("https://app.test/"),
            &[(
                Flow::AcceptInvitation,
                "https://join.test/?t={token}".into(),
            )],
        );
        assert_eq!(
            links.link(Flow::VerifyEmail, "abc").as_deref(),
            Some("https://app.test/verify-email#token=abc")
        );
        assert_eq!(
            links.link(Flow::AcceptInvitation, "abc").as_deref(),
            Some("https://join.test/?t=abc")
        );
        let bare = Links::new("https://api.test/", None, &[]);
        assert_eq!(bare.link(Flow::ResetPassword, "abc"), None);
        assert_eq!(
            bare.instruction(Flow::ResetPassword, "abc"),
            "POST it to https://api.test/api/v1/auth/password-reset/confirm.\n"
        );
    }
}
