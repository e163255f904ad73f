//! The rehearsal controls (F2): what the outside world would do to a real tenant, as the wizard
//! offers them (a digit each).

/// Rehearsal controls (F2): what the outside world would do to a real tenant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    FarmDown,
    FarmUp,
    Rollover,
    Promote,
    Sync,
    ConnectScript,
    AdvanceClock,
    Morning,
    SsoScript,
}

impl Control {
    pub const ALL: [Control; 9] = [
        Control::FarmDown,
        Control::FarmUp,
        Control::Rollover,
        Control::Promote,
        Control::Sync,
        Control::ConnectScript,
        Control::AdvanceClock,
        Control::Morning,
        Control::SsoScript,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Control::FarmDown => "Take the AD FS farm down",
            Control::FarmUp => "Bring the AD FS farm back",
            Control::Rollover => "Roll the farm's token-signing certificate (list the next one)",
            Control::Promote => "Promote the next certificate to primary",
            Control::Sync => "Run a sync cycle now",
            Control::ConnectScript => "Run the generated script on the Connect server",
            Control::AdvanceClock => "Advance the clock by 10 minutes",
            Control::Morning => "The morning after: 40 users of a converted domain sign in",
            Control::SsoScript => "Run the Seamless SSO script on the Connect server",
        }
    }
}
