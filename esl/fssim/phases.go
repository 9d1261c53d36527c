package fssim

import "strconv"

// The variables a sofia self-call sets, step by step, in the order the real
// FreeSWITCH sets them (selfcall-media.raw, session.raw, load-100calls.raw).
// Setting moves a variable to the end, so replaying these steps reproduces
// the order of the variable_* headers of every captured event.

// vop is one variable operation of a step.
type vop struct {
	name   varName
	static string               // serialized line of a constant value
	dyn    func(c *call) string // the value, computed per call
	touch  bool                 // move the existing variable to the end
	splice int                  // opOriginateVars / opSIPHeaders
}

const (
	opOriginateVars = iota + 1 // the originate's {vars}, in order
	opSIPHeaders               // the originate's sip_h_* vars, as the inbound leg receives them
)

func vS(name, value string) vop                { return vop{name: vn(name), static: varLine(name, value)} }
func vD(name string, f func(*call) string) vop { return vop{name: vn(name), dyn: f} }
func vT(name string) vop                       { return vop{name: vn(name), touch: true} }

// apply runs ops on l, building their lines into one string.
func (l *leg) apply(c *call, ops []vop) {
	b := &l.s.batch
	b.reset()
	for i := range ops {
		op := &ops[i]
		switch {
		case op.splice == opOriginateVars:
			for _, v := range c.vars {
				b.set(vn(v.name), v.value)
			}
		case op.splice == opSIPHeaders:
			for _, v := range c.vars {
				if len(v.name) > 6 && v.name[:6] == "sip_h_" {
					b.set(vn(v.name), v.value)
				}
			}
		case op.touch:
			b.touch(op.name)
		case op.dyn != nil:
			b.set(op.name, op.dyn(c))
		default:
			b.setStatic(op.name, op.static)
		}
	}
	b.commit(l)
}

const (
	sipAllow    = "INVITE, ACK, BYE, CANCEL, OPTIONS, MESSAGE, INFO, UPDATE, REGISTER, REFER, NOTIFY"
	userAgent   = "FreeSWITCH-mod_sofia/" + fsVersion
	fsVersion   = "1.11.3-dev+git~20260821T141014Z~cc93a683ca~64bit"
	fsVersionHR = "1.11.3-dev git cc93a68 2026-08-21 14:10:14Z 64bit"
	// fsRevisionHR is switch_version_revision_human (`version` prints it)
	fsRevisionHR = "git cc93a68 2026-08-21 14:10:14Z 64bit"
)

// Values computed per call.
func (c *call) outUUID() string   { return c.out.uuid }
func (c *call) inUUID() string    { return c.in.uuid }
func (c *call) outSID() string    { return strconv.FormatUint(c.out.sid, 10) }
func (c *call) inSID() string     { return strconv.FormatUint(c.in.sid, 10) }
func (c *call) ip() string        { return c.s.cfg.SIPIP }
func (c *call) hostport() string  { return c.host }
func (c *call) destPort() string  { return strconv.Itoa(c.iprof.port) }
func (c *call) oprofName() string { return c.oprof.name }
func (c *call) iprofName() string { return c.iprof.name }
func (c *call) oprofURL() string  { return c.oprof.url() }
func (c *call) iprofURL() string  { return c.iprof.url() }
func (c *call) oprofPort() string { return strconv.Itoa(c.oprof.port) }
func (c *call) destUser() string  { return c.user }
func (c *call) cid() string       { return c.cidNum }
func (c *call) outName() string   { return c.out.name }
func (c *call) inName() string    { return c.in.name }
func (c *call) outPort() string   { return strconv.Itoa(c.oport) }
func (c *call) inPort() string    { return strconv.Itoa(c.iport) }
func (c *call) fromURI() string   { return c.cidNum + "@" + c.s.cfg.SIPIP }
func (c *call) toURI() string     { return c.user + "@" + c.host }
func (c *call) fullFrom() string {
	if c.cidName != "" {
		return "\"" + c.cidName + "\" <sip:" + c.fromURI() + ">;tag=" + c.fromTag
	}
	return "<sip:" + c.fromURI() + ">;tag=" + c.fromTag
}
func (c *call) rpid() string {
	if c.cidName != "" {
		return "\"" + c.cidName + "\" <sip:" + c.fromURI() + ">;party=calling;screen=yes;privacy=off"
	}
	return "<sip:" + c.fromURI() + ">;party=calling;screen=yes;privacy=off"
}
func (c *call) via(branch string) string {
	return "SIP/2.0/UDP " + c.oprof.hostport() + ";rport=" + strconv.Itoa(c.oprof.port) + ";branch=" + branch
}

func (c *call) offerSDP(withDir bool) string {
	s := "v=0\r\no=FreeSWITCH " + strconv.FormatInt(c.osess, 10) + " " + strconv.FormatInt(c.osess+1, 10) +
		" IN IP4 " + c.ip() + "\r\ns=FreeSWITCH\r\nc=IN IP4 " + c.ip() + "\r\nt=0 0\r\nm=audio " + c.outPort() +
		" RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n" +
		"a=fmtp:101 0-15\r\na=ptime:20\r\n"
	if withDir {
		s += "a=sendrecv\r\n"
	}
	return s
}

func (c *call) answerSDP(originIP string, withDir bool) string {
	s := "v=0\r\no=FreeSWITCH " + strconv.FormatInt(c.isess, 10) + " " + strconv.FormatInt(c.isess+1, 10) +
		" IN IP4 " + originIP + "\r\ns=FreeSWITCH\r\nc=IN IP4 " + c.ip() + "\r\nt=0 0\r\nm=audio " + c.inPort() +
		" RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n" +
		"a=ptime:20\r\n"
	if withDir {
		s += "a=sendrecv\r\n"
	}
	return s
}

// outCreateVars: sofia_outgoing_channel and switch_ivr_originate on the outbound leg.
var outCreateVars = []vop{
	vS("direction", "outbound"),
	vS("is_outbound", "true"),
	vD("uuid", (*call).outUUID),
	vD("call_uuid", (*call).outUUID),
	vD("session_id", (*call).outSID),
	vD("sip_local_network_addr", (*call).ip),
	vD("sip_profile_name", (*call).oprofName),
	vS("video_media_flow", "disabled"),
	vS("text_media_flow", "disabled"),
	vD("channel_name", (*call).outName),
	vD("sip_destination_url", func(c *call) string { return "sip:" + c.toURI() }),
	{splice: opOriginateVars},
	vS("originate_early_media", "true"),
	vS("originate_endpoint", "sofia"),
	vS("rtp_use_codec_string", "PCMU,PCMA"),
	vD("local_media_ip", (*call).ip),
	vD("local_media_port", (*call).outPort),
	vD("advertised_media_ip", (*call).ip),
	vS("audio_media_flow", "sendrecv"),
	vD("rtp_local_sdp_str", func(c *call) string { return c.offerSDP(true) }),
	vD("sip_outgoing_contact_uri", func(c *call) string { return "<sip:mod_sofia@" + c.oprof.hostport() + ">" }),
	vD("sip_req_uri", (*call).toURI),
	vD("sip_to_host", (*call).hostport),
	vD("sip_from_host", (*call).ip),
	vD("sofia_profile_name", (*call).oprofName),
	vD("recovery_profile_name", (*call).oprofName),
	vD("sofia_profile_url", (*call).oprofURL),
}

// inCreateVars: sofia receiving the INVITE on the inbound leg.
var inCreateVars = []vop{
	vS("direction", "inbound"),
	vD("uuid", (*call).inUUID),
	vD("call_uuid", (*call).inUUID),
	vD("session_id", (*call).inSID),
	vD("sip_from_user", (*call).cid),
	vD("sip_from_uri", (*call).fromURI),
	vD("sip_from_host", (*call).ip),
	vD("sip_from_display", func(c *call) string { return c.cidName }),
	vS("video_media_flow", "disabled"),
	vS("audio_media_flow", "disabled"),
	vS("text_media_flow", "disabled"),
	vD("channel_name", (*call).inName),
	vD("sip_call_id", func(c *call) string { return c.callID }),
	vD("sip_local_network_addr", (*call).ip),
	vD("sip_network_ip", (*call).ip),
	vD("sip_network_port", (*call).oprofPort),
	vD("sip_invite_stamp", func(c *call) string { return strconv.FormatInt(c.in.prof.created, 10) }),
	vD("sip_received_ip", (*call).ip),
	vD("sip_received_port", (*call).oprofPort),
	vS("sip_via_protocol", "udp"),
	vD("sip_from_user_stripped", (*call).cid),
	vD("sip_from_tag", func(c *call) string { return c.fromTag }),
	vD("sofia_profile_name", (*call).iprofName),
	vD("sofia_profile_url", (*call).iprofURL),
	vD("recovery_profile_name", (*call).iprofName),
	vD("sip_Remote-Party-ID", (*call).rpid),
	vS("sip_cid_type", "rpid"),
	vD("sip_full_via", func(c *call) string { return c.via(c.branch) }),
	vD("sip_full_from", (*call).fullFrom),
	vD("sip_full_to", func(c *call) string { return "<sip:" + c.toURI() + ">" }),
	vS("sip_allow", sipAllow),
	vD("sip_req_user", (*call).destUser),
	vD("sip_req_port", (*call).destPort),
	vD("sip_req_uri", (*call).toURI),
	vD("sip_req_host", (*call).ip),
	vD("sip_to_user", (*call).destUser),
	vD("sip_to_port", (*call).destPort),
	vD("sip_to_uri", (*call).toURI),
	vD("sip_to_host", (*call).ip),
	vS("sip_contact_user", "mod_sofia"),
	vD("sip_contact_port", (*call).oprofPort),
	vD("sip_contact_uri", func(c *call) string { return "mod_sofia@" + c.oprof.hostport() }),
	vD("sip_contact_host", (*call).ip),
	vS("rtp_use_codec_string", "PCMU,PCMA"),
	vS("sip_user_agent", userAgent),
	vD("sip_via_host", (*call).ip),
	vD("sip_via_port", (*call).oprofPort),
	vD("sip_via_rport", (*call).oprofPort),
	vS("max_forwards", "70"),
	{splice: opSIPHeaders},
	vD("switch_r_sdp", func(c *call) string { return c.offerSDP(false) }),
	vS("ep_codec_string", "CORE_PCM_MODULE.PCMU@8000h@20i@64000b,CORE_PCM_MODULE.PCMA@8000h@20i@64000b"),
	vS("endpoint_disposition", "DELAYED NEGOTIATION"),
}

// codecVars: sofia's codec negotiation (PCMU), on either leg.
var codecVars = []vop{
	vS("rtp_audio_recv_pt", "0"),
	vS("rtp_use_codec_name", "PCMU"),
	vS("rtp_use_codec_rate", "8000"),
	vS("rtp_use_codec_ptime", "20"),
	vS("rtp_use_codec_channels", "1"),
	vS("rtp_last_audio_codec_string", "PCMU@8000h@20i@1c"),
	vS("read_codec", "PCMU"),
	vS("original_read_codec", "PCMU"),
	vS("read_rate", "8000"),
	vS("original_read_rate", "8000"),
	vS("write_codec", "PCMU"),
	vS("write_rate", "8000"),
	vS("dtmf_type", "rfc2833"),
}

// seq concatenates steps.
func seq(parts ...[]vop) []vop {
	var out []vop
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// inMediaVars: the inbound leg negotiating media (pre-answer or answer).
var inMediaVars = seq([]vop{
	vT("rtp_use_codec_string"),
	vS("remote_video_media_flow", "inactive"),
	vS("remote_text_media_flow", "inactive"),
	vS("remote_audio_media_flow", "sendrecv"),
	vS("audio_media_flow", "sendrecv"),
}, codecVars, []vop{
	vD("local_media_ip", (*call).ip),
	vD("local_media_port", (*call).inPort),
	vD("advertised_media_ip", (*call).ip),
	vS("rtp_use_timer_name", "soft"),
	vS("rtp_use_pt", "0"),
	vD("rtp_use_ssrc", func(c *call) string { return strconv.FormatUint(uint64(c.issrc), 10) }),
	vS("rtp_2833_send_payload", "101"),
	vS("rtp_2833_recv_payload", "101"),
	vD("remote_media_ip", (*call).ip),
	vD("remote_media_port", (*call).outPort),
	vS("endpoint_disposition", "EARLY MEDIA"),
	vD("rtp_local_sdp_str", func(c *call) string { return c.answerSDP(c.ip(), true) }),
})

// inAnsweredVars: the inbound leg once its 200 OK is acknowledged.
var inAnsweredVars = []vop{
	vS("endpoint_disposition", "ANSWER"),
	vD("sip_to_tag", func(c *call) string { return c.toTag }),
	vT("sip_from_tag"),
	vD("sip_cseq", func(c *call) string { return strconv.Itoa(c.cseq) }),
	vT("sip_call_id"),
	vD("sip_full_via", func(c *call) string { return c.via(c.branch2) }),
	vT("sip_full_from"),
	vD("sip_full_to", func(c *call) string { return "<sip:" + c.toURI() + ">;tag=" + c.toTag }),
}

// outAnswerVars: the outbound leg receiving the 200 OK.
var outAnswerVars = seq([]vop{
	vT("sip_local_network_addr"),
	vD("sip_reply_host", (*call).ip),
	vD("sip_reply_port", (*call).destPort),
	vD("sip_network_ip", (*call).ip),
	vD("sip_network_port", (*call).destPort),
	vS("sip_user_agent", userAgent),
	vS("sip_allow", sipAllow),
	vD("sip_recover_contact", func(c *call) string { return "<sip:" + c.toURI() + ";transport=udp>" }),
	vD("sip_full_via", func(c *call) string { return c.via(c.branch) }),
	vD("sip_recover_via", func(c *call) string { return c.via(c.branch) }),
	vD("sip_full_from", (*call).fullFrom),
	vD("sip_full_to", func(c *call) string { return "<sip:" + c.toURI() + ">;tag=" + c.toTag }),
	vD("sip_from_user", (*call).cid),
	vD("sip_from_uri", (*call).fromURI),
	vT("sip_from_host"),
	vD("sip_to_user", (*call).destUser),
	vD("sip_to_port", (*call).destPort),
	vD("sip_to_uri", (*call).toURI),
	vD("sip_to_host", (*call).ip),
	vS("sip_contact_params", "transport=udp"),
	vD("sip_contact_user", (*call).destUser),
	vD("sip_contact_port", (*call).destPort),
	vD("sip_contact_uri", (*call).toURI),
	vD("sip_contact_host", (*call).ip),
	vD("sip_to_tag", func(c *call) string { return c.toTag }),
	vD("sip_from_tag", func(c *call) string { return c.fromTag }),
	vD("sip_cseq", func(c *call) string { return strconv.Itoa(c.cseq) }),
	vD("sip_call_id", func(c *call) string { return c.callID }),
	vD("switch_r_sdp", func(c *call) string { return c.answerSDP(c.s.cfg.IPv4, false) }),
	vS("ep_codec_string", "CORE_PCM_MODULE.PCMU@8000h@20i@64000b"),
	vT("rtp_use_codec_string"),
	vS("remote_video_media_flow", "inactive"),
	vS("remote_text_media_flow", "inactive"),
	vS("remote_audio_media_flow", "sendrecv"),
}, codecVars, []vop{
	vT("local_media_ip"),
	vT("local_media_port"),
	vT("advertised_media_ip"),
	vS("rtp_use_timer_name", "soft"),
	vS("rtp_use_pt", "0"),
	vD("rtp_use_ssrc", func(c *call) string { return strconv.FormatUint(uint64(c.ossrc), 10) }),
	vS("rtp_2833_send_payload", "101"),
	vS("rtp_2833_recv_payload", "101"),
	vD("remote_media_ip", (*call).ip),
	vD("remote_media_port", (*call).inPort),
})

// outExecuteVars: the outbound leg entering CS_EXECUTE after the originate.
var outExecuteVars = []vop{
	vS("endpoint_disposition", "ANSWER"),
	vD("pre_transfer_caller_id_number", (*call).cid),
	vS("channel_cid_flipped", "yes"),
}

var (
	vnCallUUID             = vn("call_uuid")
	vnCurrentApp           = vn("current_application")
	vnCurrentAppData       = vn("current_application_data")
	vnCurrentAppResponse   = vn("current_application_response")
	vnCurrentLoop          = vn("current_loop")
	vnTotalLoops           = vn("total_loops")
	vnSipUserAgent         = vn("sip_user_agent")
	vnSipHangupDisposition = vn("sip_hangup_disposition")
)
