package host

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/switchlua/switchlua/esl"
	"github.com/switchlua/switchlua/models"
)

// OriginateOptions are the arguments of an originate (switchio's originate
// command). The zero value makes a 60 s originate to sofia/external/<dest>
// that parks the outbound leg, handled by the default app.
type OriginateOptions struct {
	// App is the app id both legs run (sip_h_X-switchlua_app); "" leaves the
	// header out, so the default app handles them.
	App string
	// Profile is the sofia profile when dest is not a full dial string
	// (default "external"); Gateway dials sofia/gateway/<Gateway>/<dest>.
	Profile string
	Gateway string
	// Proxy routes the INVITE through a SIP proxy (;fs_path=sip:<Proxy>).
	Proxy string
	// Vars are more channel variables; they override the defaults below of
	// the same name.
	Vars map[string]string
	// Timeout is originate_timeout (default 60 s).
	Timeout time.Duration
	// CallerIDName and CallerIDNumber default to "switchlua" and "1112223333".
	CallerIDName, CallerIDNumber string
	// UUID is the outbound leg's origination_uuid (generated when empty). It
	// is also the call's tracking key (sip_h_X-switchlua_originating_session).
	UUID string
	// Exten is what the outbound leg runs once answered (default "&park()").
	Exten string
}

// BuildOriginate returns the api command (without "bgapi ") that originates a
// call to dest as switchio builds it:
//
//	originate {originate_timeout=60,origination_caller_id_name=switchlua,origination_caller_id_number=1112223333,origination_uuid=U,ignore_display_updates=true,ignore_early_media=true,sip_h_X-switchlua_originating_session=U,sip_h_X-switchlua_app=APP}sofia/external/DEST &park()
//
// dest is a SIP address (user@host:port) dialled through the profile or
// gateway, or a full dial string when it contains a '/' (e.g.
// "loopback/9999"). o.UUID must be set (Originate sets it). Commas in values
// are escaped as FreeSWITCH wants inside {}.
func BuildOriginate(dest string, o OriginateOptions) string {
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	name, num := o.CallerIDName, o.CallerIDNumber
	if name == "" {
		name = "switchlua"
	}
	if num == "" {
		num = "1112223333"
	}
	type kv struct{ k, v string }
	vars := []kv{
		{"originate_timeout", strconv.Itoa(int((timeout + time.Second - 1) / time.Second))},
		{"origination_caller_id_name", name},
		{"origination_caller_id_number", num},
		{"origination_uuid", o.UUID},
		{"ignore_display_updates", "true"},
		{"ignore_early_media", "true"},
		{"sip_h_X-switchlua_originating_session", o.UUID},
	}
	if o.App != "" {
		vars = append(vars, kv{"sip_h_X-switchlua_app", o.App})
	}
	extra := make([]string, 0, len(o.Vars))
	for k := range o.Vars {
		extra = append(extra, k)
	}
	slices.Sort(extra)
	for _, k := range extra {
		if i := slices.IndexFunc(vars, func(x kv) bool { return x.k == k }); i >= 0 {
			vars[i].v = o.Vars[k]
			continue
		}
		vars = append(vars, kv{k, o.Vars[k]})
	}
	var b strings.Builder
	b.WriteString("originate {")
	for i, x := range vars {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(x.k)
		b.WriteByte('=')
		b.WriteString(strings.ReplaceAll(x.v, ",", `\,`))
	}
	b.WriteByte('}')
	switch {
	case strings.Contains(dest, "/"):
		b.WriteString(dest)
	case o.Gateway != "":
		b.WriteString("sofia/gateway/")
		b.WriteString(o.Gateway)
		b.WriteByte('/')
		b.WriteString(dest)
	default:
		p := o.Profile
		if p == "" {
			p = "external"
		}
		b.WriteString("sofia/")
		b.WriteString(p)
		b.WriteByte('/')
		b.WriteString(dest)
	}
	if o.Proxy != "" {
		b.WriteString(";fs_path=sip:")
		b.WriteString(o.Proxy)
	}
	b.WriteByte(' ')
	if o.Exten != "" {
		b.WriteString(o.Exten)
	} else {
		b.WriteString("&park()")
	}
	return b.String()
}

// Originate starts a call to dest (see BuildOriginate) with bgapi and returns
// its job at once. The job completes when FreeSWITCH answers the originate
// (+OK: the outbound leg was answered) or fails (-ERR CAUSE; then no channel
// may exist and the job is the only trace). job.SessUUID is the outbound
// leg's uuid and the call's tracking key; the legs are tracked as sessions of
// one call and run app o.App (the default app when empty). When the job
// completes, on_job(sess, job) of that app runs, and of that app only: with
// the outbound leg, or with sess == nil when it no longer exists or never
// did (an originate that failed before any channel existed). Safe from any
// goroutine; never blocks.
func (l *Listener) Originate(dest string, o OriginateOptions) (*models.Job, error) {
	if o.UUID == "" {
		o.UUID = esl.NewUUID()
	}
	cmd := BuildOriginate(dest, o)
	app := o.App
	if app == "" {
		app = l.cfg.DefaultApp
	}
	return l.launch(models.NewJob(esl.NewUUID(), o.UUID, cmd, time.Now()), app)
}

// BgAPI runs cmd with bgapi and returns its job at once; the BACKGROUND_JOB
// completes it. Safe from any goroutine; never blocks.
func (l *Listener) BgAPI(cmd string) (*models.Job, error) {
	return l.launch(models.NewJob(esl.NewUUID(), "", cmd, time.Now()), "")
}

// launch registers j on the Listener goroutine, then sends it with its own
// Job-UUID, so the BACKGROUND_JOB always finds it. app is the app the
// originate's legs run ("" for a plain bgapi).
func (l *Listener) launch(j *models.Job, app string) (*models.Job, error) {
	if l.closed.Load() {
		return nil, ErrClosed
	}
	ok := l.in.push(item{kind: kindFunc, fn: func() {
		l.jobs[j.UUID] = j
		if j.SessUUID != "" {
			l.origs[j.SessUUID] = &orig{j: j, app: intern(app)}
		}
		l.count(func(st *Stats) { st.JobsLaunched++; st.Jobs++ })
		l.send("bgapi "+j.Command+"\nJob-UUID: "+j.UUID, func(_ string, err error) {
			if err != nil {
				l.failJob(j, err)
			}
		})
	}})
	if !ok {
		return nil, ErrClosed
	}
	return j, nil
}
