//! Reply addresses: `reply+<ticket id>.<mac>@<INBOUND_MAIL_DOMAIN>` on every ticket mail, so a
//! reply names its ticket and proves it came from a mail we sent (the MAC is an HMAC-SHA256 of
//! the ticket id under `INBOUND_REPLY_KEY`, cut to 80 bits: the local part stays within 64
//! characters). Lower case only, since mail systems may fold the case of a local part.

use aws_lc_rs::hmac;

use super::plausible_id;

/// Hex characters of the MAC (80 bits).
const MAC_HEX: usize = 20;
/// The local part before `+`.
const LOCAL: &str = "reply";

/// Makes and checks reply addresses.
#[derive(Clone)]
pub struct ReplyAddresses {
    key: hmac::Key,
    domain: String,
}

impl std::fmt::Debug for ReplyAddresses {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplyAddresses").field("domain", &self.domain).finish_non_exhaustive()
    }
}

impl ReplyAddresses {
    /// Addresses at `domain` (lower-cased) signed with `secret` (at least 32 bytes).
    pub fn new(secret: &[u8], domain: &str) -> Self {
        Self { key: hmac::Key::new(hmac::HMAC_SHA256, secret), domain: domain.trim().to_ascii_lowercase() }
    }

    /// The domain replies go to.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    fn mac(&self, ticket_id: &str) -> String {
        let tag = hmac::sign(&self.key, ticket_id.as_bytes());
        hex::encode(&tag.as_ref()[..MAC_HEX / 2])
    }

    /// The reply address of a ticket.
    pub fn for_ticket(&self, ticket_id: &str) -> String {
        format!("{LOCAL}+{ticket_id}.{}@{}", self.mac(ticket_id), self.domain)
    }

    /// The ticket a reply address names, if it is one of ours with a valid MAC.
    pub fn ticket_of(&self, address: &str) -> Option<String> {
        let address = address.trim().to_ascii_lowercase();
        let (local, domain) = address.rsplit_once('@')?;
        if domain != self.domain {
            return None;
        }
        let token = local.strip_prefix(LOCAL)?.strip_prefix('+')?;
        let (ticket, mac) = token.rsplit_once('.')?;
        if !plausible_id(ticket) || mac.len() != MAC_HEX {
            return None;
        }
        aws_lc_rs::constant_time::verify_slices_are_equal(mac.as_bytes(), self.mac(ticket).as_bytes())
            .ok()?;
        Some(ticket.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip_and_refuse_any_change() {
        let replies = ReplyAddresses::new(&[7u8; 32], "In.Example.com");
        let id = "tkt_0123456789abcdef0123456789abcdef";
        let address = replies.for_ticket(id);
        assert!(address.starts_with("reply+tkt_") && address.ends_with("@in.example.com"), "{address}");
        assert!(address.split('@').next().unwrap().len() <= 64);
        assert_eq!(replies.ticket_of(&address).as_deref(), Some(id));
        assert_eq!(replies.ticket_of(&address.to_ascii_uppercase()).as_deref(), Some(id), "case folded");
        let other = "tkt_0123456789abcdef0123456789abcdee";
        let swapped = address.replace(id, other);
        assert_eq!(replies.ticket_of(&swapped), None, "another ticket under this MAC");
        assert_eq!(replies.ticket_of(&address.replace("@in.", "@evil.")), None);
        assert_eq!(
            ReplyAddresses::new(&[8u8; 32], "in.example.com").ticket_of(&address),
            None,
            "another key"
        );
        for junk in ["", "reply@in.example.com", "reply+@in.example.com", "x+tkt_1.00@in.example.com"] {
            assert_eq!(replies.ticket_of(junk), None, "{junk}");
        }
    }
}
