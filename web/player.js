// The grader's recording player: call facts, a waveform with the talk analysis drawn over it,
// transport controls, comments pinned to a time, and listen coverage sent to the server.
//
//   const player = mountPlayer(container, recordingId, { user });
//   player.onTime((seconds) => …); player.seek(12.5); player.coverage(); player.destroy();
//
// Standalone it is the page #/recordings/:id; a grading page can embed it the same way.
// Everything the server adds on top of the recording itself (peaks, analysis, coverage,
// comments) is optional: when one of them cannot be loaded the player still plays.

import {
  ApiError, api, errorMessage, formatAudio, formatClock, formatDateTime, h, isAbort, orNone,
} from './common.js';
import { getLang, hasKey, t } from './i18n.js';

export const RATES = [0.5, 1, 1.25, 1.5, 2];
const JUMP_S = 5;
/** Silences (nobody talking) at least this long are jumped over when "skip silence" is on. */
export const SKIP_MIN_S = 1.5;
/** Silence kept on each side of a skipped one, so speech is never clipped. */
const SKIP_KEEP_S = 0.25;
const SYNC_EVERY_MS = 5000;

// Waveform geometry, in CSS pixels.
const TOP = 10; // comment markers
const BOTTOM = 6; // listened strip
const LANE_H = { 1: 104, 2: 68 };

const COLORS = {
  lane: ['#2d6a9a', '#2f7d6d'],
  laneBg: ['#f3f7fb', '#f2f8f6'],
  played: ['#173f5f', '#174d42'],
  talk: ['rgba(45, 106, 154, 0.14)', 'rgba(47, 125, 109, 0.14)'],
  overtalk: 'rgba(192, 57, 43, 0.22)',
  overtalkBar: '#c0392b',
  silence: 'rgba(95, 107, 122, 0.55)',
  skippable: 'rgba(95, 107, 122, 0.10)',
  separator: '#dde2e8',
  centre: '#c5ccd5',
  listened: '#7b5ea7',
  notListened: '#ebe7f2',
  comment: '#c27c0e',
  playhead: '#b42318',
  playedTint: 'rgba(31, 41, 51, 0.05)',
  preview: '#1f2933',
};

// ---------------------------------------------------------------------------
// Time intervals ([start, end] in seconds)

/** Sorted, non-overlapping copy of `list`; intervals closer than `gap` are joined. */
export function mergeIntervals(list, gap = 0) {
  const sorted = (list ?? [])
    .filter((iv) => Array.isArray(iv) && Number.isFinite(iv[0]) && Number.isFinite(iv[1]) && iv[1] > iv[0])
    .map(([s, e]) => [s, e])
    .sort((a, b) => a[0] - b[0]);
  const out = [];
  for (const [s, e] of sorted) {
    const last = out[out.length - 1];
    if (last && s <= last[1] + gap) last[1] = Math.max(last[1], e);
    else out.push([s, e]);
  }
  return out;
}

export const totalLength = (list) => list.reduce((sum, [s, e]) => sum + (e - s), 0);

/** The parts of [0, duration] not covered by `busy`, at least `minLength` long. */
export function gaps(busy, duration, minLength) {
  const out = [];
  let cursor = 0;
  for (const [s, e] of mergeIntervals(busy)) {
    if (s - cursor >= minLength) out.push([cursor, Math.min(s, duration)]);
    cursor = Math.max(cursor, e);
  }
  if (duration - cursor >= minLength) out.push([cursor, duration]);
  return out;
}

/**
 * The media time really played. Playback extends the open segment as the position moves on
 * continuously; a seek, a pause or a jump the clock cannot explain closes it. Positions seen
 * while seeking never count.
 */
export class CoverageTracker {
  constructor() {
    this.closed = [];
    this.segStart = null;
    this.last = null;
    this.lastWall = 0;
    /** Bumped whenever the played set grows; the player saves when it moved since the last save. */
    this.version = 0;
  }

  get tracking() {
    return this.segStart !== null;
  }

  /** Playback runs from `position` on. */
  start(position, now) {
    this.stop();
    this.segStart = position;
    this.last = position;
    this.lastWall = now;
  }

  /** The position moved to `position` while playing at `rate`. */
  advance(position, rate, now) {
    if (!this.tracking) return;
    const elapsed = Math.max(0, now - this.lastWall) / 1000;
    const allowed = elapsed * Math.max(rate, 0.25) * 1.5 + 0.5;
    const delta = position - this.last;
    if (delta < -0.05 || delta > allowed) {
      // A jump playback cannot explain: keep what was played, restart from here.
      this.start(position, now);
      return;
    }
    if (delta > 0) {
      this.last = position;
      this.version += 1;
    }
    this.lastWall = now;
  }

  /** Playback stopped (pause, seek, end): the open segment is closed where it was last seen. */
  stop() {
    if (!this.tracking) return;
    if (this.last > this.segStart) {
      this.closed = mergeIntervals([...this.closed, [this.segStart, this.last]]);
      this.version += 1;
    }
    this.segStart = null;
    this.last = null;
  }

  /** Intervals known from elsewhere (the server's record of earlier sessions). */
  addKnown(intervals) {
    this.closed = mergeIntervals([...this.closed, ...intervals]);
  }

  /** Intervals heard earlier that the server may not hold yet: they are to be saved. */
  addUnsaved(intervals) {
    if (intervals.length === 0) return;
    this.addKnown(intervals);
    this.version += 1;
  }

  intervals() {
    const open = this.tracking && this.last > this.segStart ? [[this.segStart, this.last]] : [];
    return mergeIntervals([...this.closed, ...open]);
  }
}

// ---------------------------------------------------------------------------
// What a page heard and may not have saved: a page going away (reload, another route) sends
// its last save, but the page that opens next may ask the server before that save lands and
// would show, and keep, the older share. So the last page also leaves what it heard in
// sessionStorage, and the next one sends it again (the server keeps the union; it credits
// only what it served).

const unsavedKey = (user, recordingId) => `callgrade.heard.${user?.username ?? ''}.${recordingId}`;

function readUnsaved(key) {
  try {
    const v = JSON.parse(sessionStorage.getItem(key) ?? '[]');
    return Array.isArray(v) ? v : [];
  } catch {
    return [];
  }
}

function writeUnsaved(key, intervals) {
  try {
    if (intervals.length > 0) sessionStorage.setItem(key, JSON.stringify(intervals));
    else sessionStorage.removeItem(key);
  } catch {
    // No storage (private mode, quota): the server's copy is all there is.
  }
}

// ---------------------------------------------------------------------------
// Small helpers

const clamp = (x, lo, hi) => Math.min(hi, Math.max(lo, x));
/** A whole call's length, rounded to the second as in the recordings list. */
const totalClock = (seconds) => formatClock(Math.round(seconds));
const msToS = (pair) => [pair[0] / 1000, pair[1] / 1000];
const isInterval = (v) => Array.isArray(v) && v.length >= 2 && Number.isFinite(v[0]) && Number.isFinite(v[1]);
const silenceInterval = (v) =>
  v && Number.isFinite(v.start_ms) && Number.isFinite(v.end_ms) && v.end_ms > v.start_ms
    ? [v.start_ms / 1000, v.end_ms / 1000] : null;

function formatRate(rate) {
  return t('player.rate', { rate: new Intl.NumberFormat(getLang(), { maximumFractionDigits: 2 }).format(rate) });
}

function formatPercent(fraction) {
  return new Intl.NumberFormat(getLang(), { style: 'percent', maximumFractionDigits: 0 }).format(fraction);
}

function laneLabel(label) {
  return hasKey(`player.lane.${label}`) ? t(`player.lane.${label}`) : String(label);
}

/** Lanes as shown, for when the peaks are not available: the agent on top. */
function labelsFromLayout(rec) {
  return rec?.channels === 2 ? ['agent', 'customer'] : ['mono'];
}

/** Display order of a lane: agent, then customer, then anything else. */
function laneRank(label) {
  const rank = ['agent', 'customer'].indexOf(label);
  return rank < 0 ? 2 : rank;
}

/** A lane's colour follows who speaks in it, never its position or channel number. */
function laneColour(label, i) {
  const rank = laneRank(label);
  return rank < 2 ? rank : i % 2;
}

/** Focus is somewhere the keys mean text or a choice: shortcuts stay out of the way. */
function isTyping(el) {
  if (!(el instanceof Element)) return false;
  if (el.isContentEditable) return true;
  if (el.tagName === 'TEXTAREA' || el.tagName === 'SELECT') return true;
  if (el.tagName === 'INPUT') return !['checkbox', 'radio', 'button', 'submit', 'reset'].includes(el.type);
  return false;
}

/** Normalises the peaks document; null when it is unusable. */
function readPeaks(data) {
  const spp = Number(data?.samples_per_pixel);
  const rate = Number(data?.sample_rate);
  if (!(spp > 0) || !(rate > 0) || !Array.isArray(data?.peaks) || data.peaks.length === 0) return null;
  const lanes = data.peaks.filter(Array.isArray);
  if (lanes.length !== data.peaks.length) return null;
  const labels = Array.isArray(data.channel_labels) && data.channel_labels.length === lanes.length
    ? data.channel_labels.map(String)
    : lanes.length === 2 ? ['agent', 'customer'] : lanes.map(() => 'mono');
  // The agent's lane is always on top, whichever channel the recorder put them on.
  const order = labels.map((_, i) => i).sort((a, b) => laneRank(labels[a]) - laneRank(labels[b]));
  return {
    spp,
    rate,
    lanes: order.map((i) => lanes[i]),
    labels: order.map((i) => labels[i]),
    columns: Math.min(...lanes.map((p) => Math.floor(p.length / 2))),
  };
}

/** Normalises the analysis document into seconds; null when it is unusable. */
function readAnalysis(data) {
  if (!Array.isArray(data?.channels)) return null;
  const channels = data.channels.map((c) => ({
    label: String(c?.label ?? ''),
    talk: mergeIntervals((Array.isArray(c?.talk) ? c.talk : []).filter(isInterval).map(msToS)),
  }));
  return {
    channels,
    longestSilence: silenceInterval(data.longest_silence),
    overtalk: Array.isArray(data.overtalk) ? mergeIntervals(data.overtalk.filter(isInterval).map(msToS)) : [],
  };
}

// ---------------------------------------------------------------------------
// The player

/**
 * Mounts the player for recording `recordingId` into `container`.
 *
 * Options: `user` (the signed-in user; agents get no comments panel), `comments` (force the
 * panel on or off), `facts` (false hides the call facts header), `keyboard` (false turns the
 * document-wide shortcuts off), `resume` ({time, rate, skipSilence, playing} to pick up
 * where a previous mount stopped; also `intervals` already heard), `signal` (aborting it destroys the player),
 * `onRecording(rec)` (called once the recording is loaded).
 */
export function mountPlayer(container, recordingId, options = {}) {
  const opts = { facts: true, keyboard: true, ...options };
  const user = opts.user ?? null;
  const showComments = opts.comments ?? user?.role !== 'agent';
  const base = `/api/recordings/${encodeURIComponent(recordingId)}`;
  const life = new AbortController();
  const timeListeners = new Set();
  const tracker = new CoverageTracker();
  if (Array.isArray(opts.resume?.intervals)) tracker.addKnown(opts.resume.intervals.filter(isInterval));
  const heardKey = unsavedKey(user, recordingId);
  tracker.addUnsaved(readUnsaved(heardKey).filter(isInterval));

  let destroyed = false;
  let rec = null;
  let peaks = null;
  let analysis = null;
  let silences = []; // skippable: nobody talks for at least SKIP_MIN_S
  let comments = [];
  let rate = RATES.includes(opts.resume?.rate) ? opts.resume.rate : 1;
  let skipSilence = Boolean(opts.resume?.skipSilence);
  let drag = null; // {pointerId, time} while the waveform is being dragged
  let hoverTime = null;
  let pinnedAt = null; // position the comment being typed belongs to
  let lastNotified = null;

  // Coverage saving.
  let coverageEnabled = true;
  let savedVersion = 0;
  let saving = null;
  let saveAgain = false;
  // Saves in a row the server did not credit in full (played faster than the audio was
  // served, or a part not served yet): retried a while, then left for the next playback.
  let uncredited = 0;
  const MAX_RETRIES = 24;

  // --- elements
  // Only the header up front: the server decodes the audio for every request it answers.
  const audio = h('audio', { id: 'player-audio', preload: 'metadata' });
  audio.preservesPitch = true;

  const facts = h('div', { class: 'player-facts' });
  const alerts = h('div', { class: 'player-alerts' });

  const canvas = h('canvas', {
    id: 'waveform', class: 'waveform', role: 'slider', tabindex: '0',
    'aria-label': t('player.waveform'), 'aria-valuemin': '0', 'aria-valuemax': '0', 'aria-valuenow': '0',
  });
  const laneLabels = h('div', { class: 'lane-labels', 'aria-hidden': 'true' });
  const hoverLabel = h('span', { class: 'wave-hover', hidden: true, 'aria-hidden': 'true' });
  const waveNote = h('p', { class: 'wave-note muted', role: 'status' }, t('player.waveform_loading'));
  const waveWrap = h('div', { class: 'wave-wrap' }, canvas, laneLabels, hoverLabel);

  const legendItem = (kind, key) => h('span', { class: `legend-item legend-${kind}` },
    h('span', { class: 'legend-swatch', 'aria-hidden': 'true' }), t(key));
  const legendTalk = legendItem('talk', 'player.legend.talk');
  const legendOvertalk = legendItem('overtalk', 'player.legend.overtalk');
  const legendSilence = legendItem('silence', 'player.legend.silence');
  const legendSkippable = legendItem('skippable', 'player.legend.skippable');
  const legendListened = legendItem('listened', 'player.legend.listened');
  const legendComment = legendItem('comment', 'player.legend.comment');
  for (const el of [legendTalk, legendOvertalk, legendSilence, legendSkippable]) el.hidden = true;
  legendComment.hidden = !showComments;
  const legend = h('div', { class: 'wave-legend' },
    legendTalk, legendOvertalk, legendSilence, legendSkippable, legendListened, legendComment);

  const playToggle = h('button', {
    id: 'play-toggle', type: 'button', class: 'btn btn-primary play-toggle', 'data-state': 'paused',
    title: t('player.play_hint'),
  }, t('player.play'));
  // The accessible name starts with the visible text, so voice control ("click −5 s") works.
  const back5 = h('button', {
    id: 'back-5', type: 'button', class: 'btn', 'aria-label': `${t('player.back5')}: ${t('player.back5_label')}`,
    title: t('player.back5_label'),
  }, t('player.back5'));
  const fwd5 = h('button', {
    id: 'fwd-5', type: 'button', class: 'btn', 'aria-label': `${t('player.fwd5')}: ${t('player.fwd5_label')}`,
    title: t('player.fwd5_label'),
  }, t('player.fwd5'));
  const currentLabel = h('span', { id: 'current-time', class: 'tabular' }, formatClock(0));
  const durationLabel = h('span', { id: 'duration', class: 'tabular', 'data-seconds': '0' }, formatClock(0));
  const speed = h('select', { id: 'speed', title: t('player.speed_hint') },
    RATES.map((r) => h('option', { value: String(r), 'data-rate': String(r) }, formatRate(r))));
  const skipBox = h('input', { id: 'skip-silence', type: 'checkbox', disabled: true });
  const skipLabel = h('label', {
    class: 'toggle', for: 'skip-silence', title: t('player.skip_silence_hint', { seconds: SKIP_MIN_S }),
  }, skipBox, t('player.skip_silence'));
  const coverageLabel = h('span', {
    id: 'coverage', class: 'coverage tabular', 'data-fraction': '0', 'data-sync': 'idle', role: 'status',
  }, t('player.listened', { percent: formatPercent(0) }));

  const transport = h('div', { class: 'transport', role: 'group', 'aria-label': t('player.controls') },
    h('div', { class: 'transport-main' }, back5, playToggle, fwd5,
      h('span', { class: 'clock', 'aria-label': t('player.position') }, currentLabel, ' / ', durationLabel)),
    h('div', { class: 'transport-options' },
      h('label', { class: 'inline-field', for: 'speed' }, t('player.speed'), speed),
      skipLabel,
      coverageLabel,
    ),
  );
  const shortcuts = h('p', { class: 'shortcuts muted' }, t('player.shortcuts'));

  // Comments
  const commentText = h('input', {
    id: 'comment-text', type: 'text', maxlength: '2000', autocomplete: 'off',
    placeholder: t('player.comment_placeholder'), 'aria-label': t('player.comment_label'),
  });
  const commentAt = h('span', { id: 'comment-at', class: 'comment-at tabular muted' });
  const commentAdd = h('button', { id: 'comment-add', type: 'submit', class: 'btn', disabled: true }, t('player.comment_add'));
  const commentError = h('p', { class: 'alert alert-error comment-error', role: 'alert', hidden: true });
  const commentList = h('ol', { id: 'comments', class: 'comment-list' });
  const commentStatus = h('p', { class: 'muted comment-status', role: 'status' }, t('player.comments_loading'));
  const commentForm = h('form', { id: 'comment-form', class: 'comment-form' }, commentText, commentAt, commentAdd);
  const commentsPanel = showComments
    ? h('section', { class: 'comments-panel', 'aria-labelledby': 'comments-title' },
      h('h2', { id: 'comments-title' }, t('player.comments')),
      commentForm, commentError, commentStatus, commentList)
    : null;

  const root = h('section', { id: 'player', class: 'player', 'data-recording-id': recordingId, 'data-state': 'loading' },
    opts.facts ? facts : null,
    alerts,
    audio,
    h('div', { class: 'player-card' }, waveWrap, waveNote, legend, transport, shortcuts),
    commentsPanel,
  );
  container.append(root);

  // --- status messages
  function showAlert(key, text) {
    let el = alerts.querySelector(`[data-alert="${key}"]`);
    if (!el) {
      el = h('p', { class: 'alert alert-error', role: 'alert', 'data-alert': key });
      alerts.append(el);
    }
    el.textContent = text;
  }
  const clearAlert = (key) => alerts.querySelector(`[data-alert="${key}"]`)?.remove();

  // --- time
  function duration() {
    if (Number.isFinite(audio.duration) && audio.duration > 0) return audio.duration;
    if (rec && Number.isFinite(rec.duration_ms) && rec.duration_ms > 0) return rec.duration_ms / 1000;
    return 0;
  }

  function seek(seconds) {
    const d = duration();
    if (!d || !Number.isFinite(seconds)) return;
    audio.currentTime = clamp(seconds, 0, d);
    schedule();
  }

  const jump = (delta) => seek(audio.currentTime + delta);

  function setRate(next) {
    if (!RATES.includes(next)) return;
    rate = next;
    audio.preservesPitch = true;
    audio.defaultPlaybackRate = next;
    audio.playbackRate = next;
    speed.value = String(next);
  }

  const stepRate = (dir) => setRate(RATES[clamp(RATES.indexOf(rate) + dir, 0, RATES.length - 1)]);

  function togglePlay() {
    if (audio.paused || audio.ended) {
      clearAlert('play');
      const started = audio.play();
      started?.catch((err) => {
        if (destroyed || err?.name === 'AbortError') return;
        showAlert('play', t(err?.name === 'NotAllowedError' ? 'player.play_blocked' : 'player.audio_error'));
      });
    } else {
      audio.pause();
    }
    updatePlayState();
  }

  function updatePlayState() {
    const playing = !audio.paused && !audio.ended;
    playToggle.dataset.state = playing ? 'playing' : 'paused';
    playToggle.textContent = t(playing ? 'player.pause' : 'player.play');
    root.dataset.playing = String(playing);
  }

  // --- coverage
  function coverage() {
    const d = duration();
    const intervals = tracker.intervals()
      .map(([s, e]) => [clamp(s, 0, d || s), clamp(e, 0, d || e)])
      .filter(([s, e]) => e > s);
    const listened = totalLength(intervals);
    return { duration_s: d, listened_s: listened, fraction: d > 0 ? clamp(listened / d, 0, 1) : 0, intervals };
  }

  function updateCoverage() {
    const c = coverage();
    coverageLabel.dataset.fraction = c.fraction.toFixed(4);
    coverageLabel.textContent = t('player.listened', { percent: formatPercent(c.fraction) });
    coverageLabel.title = coverageLabel.dataset.sync === 'uncredited'
      ? t('player.coverage_uncredited')
      : t('player.listened_detail', { listened: formatClock(c.listened_s), duration: totalClock(c.duration_s) });
  }

  /** Sends the played intervals (all of them: the server keeps the union). */
  async function saveCoverage({ keepalive = false } = {}) {
    if (!coverageEnabled) return;
    const version = tracker.version;
    if (version === savedVersion) return;
    const intervals = coverage().intervals
      .map(([s, e]) => [Math.round(s * 1000) / 1000, Math.round(e * 1000) / 1000])
      .filter(([s, e]) => e > s);
    if (intervals.length === 0) return;
    if (saving && !keepalive) {
      saveAgain = true;
      return;
    }
    coverageLabel.dataset.sync = 'saving';
    const request = api('POST', `${base}/coverage`, { intervals }, { authRedirect: false, keepalive });
    saving = request;
    try {
      const data = await request;
      const short = Number(data?.too_fast_s) > 0 || Number(data?.not_served_s) > 0;
      uncredited = short ? uncredited + 1 : 0;
      if (!short || uncredited > MAX_RETRIES) savedVersion = Math.max(savedVersion, version);
      if (!short && version === tracker.version) writeUnsaved(heardKey, []);
      if (destroyed) return;
      if (Array.isArray(data?.intervals)) tracker.addKnown(data.intervals.filter(isInterval));
      coverageLabel.dataset.sync = short ? 'uncredited' : 'saved';
      coverageLabel.classList.remove('coverage-unsaved');
      updateCoverage();
    } catch (err) {
      if (destroyed || isAbort(err)) return;
      console.warn('saving listen coverage failed', err);
      coverageLabel.dataset.sync = 'error';
      coverageLabel.classList.add('coverage-unsaved');
      coverageLabel.title = t('player.coverage_unsaved');
      // Lost session or no right to record coverage: retrying cannot help.
      if (err instanceof ApiError && [401, 403].includes(err.status)) coverageEnabled = false;
    } finally {
      if (saving === request) saving = null;
      if (saveAgain && !destroyed) {
        saveAgain = false;
        saveCoverage();
      }
    }
  }

  // --- playback events
  const now = () => performance.now();

  function tick() {
    const position = audio.currentTime;
    if (!audio.paused && !audio.seeking) {
      if (tracker.tracking) tracker.advance(position, audio.playbackRate, now());
      else if (audio.readyState >= 3) tracker.start(position, now());
      maybeSkipSilence(position);
    }
    updateTime(position);
  }

  function updateTime(position) {
    const d = duration();
    // The total is rounded like everywhere else; the position is rounded down until the end.
    const clock = d > 0 && position >= d - 0.05 ? totalClock(d) : formatClock(position);
    currentLabel.textContent = clock;
    canvas.setAttribute('aria-valuenow', position.toFixed(1));
    canvas.setAttribute('aria-valuetext', t('player.position_value', { time: clock, duration: totalClock(d) }));
    if (pinnedAt === null) commentAt.textContent = t('player.comment_at', { time: formatClock(position) });
    updateCoverage();
    if (position !== lastNotified) {
      lastNotified = position;
      for (const cb of timeListeners) {
        try {
          cb(position);
        } catch (err) {
          console.error(err);
        }
      }
    }
  }

  function updateDuration() {
    const d = duration();
    durationLabel.dataset.seconds = d.toFixed(3);
    durationLabel.textContent = totalClock(d);
    canvas.setAttribute('aria-valuemax', d.toFixed(1));
    computeSilences();
    rebuild();
  }

  function maybeSkipSilence(position) {
    if (!skipSilence || drag) return;
    const d = duration();
    for (const [s, e] of silences) {
      if (position >= s + SKIP_KEEP_S && position < e - SKIP_KEEP_S - 0.1) {
        seek(e >= d - 0.05 ? d : e - SKIP_KEEP_S);
        return;
      }
    }
  }

  const on = (target, type, fn, opt) => target.addEventListener(type, fn, { signal: life.signal, ...opt });

  on(audio, 'loadedmetadata', () => {
    updateDuration();
    if (opts.resume?.time > 0) audio.currentTime = clamp(opts.resume.time, 0, duration());
    if (opts.resume?.playing) togglePlay();
    schedule();
  });
  on(audio, 'durationchange', updateDuration);
  on(audio, 'timeupdate', schedule);
  on(audio, 'play', () => {
    updatePlayState();
    schedule();
  });
  on(audio, 'playing', () => {
    if (!audio.seeking && !tracker.tracking) tracker.start(audio.currentTime, now());
    updatePlayState();
    schedule();
  });
  on(audio, 'seeking', () => {
    tracker.stop();
    schedule();
  });
  on(audio, 'seeked', () => {
    if (!audio.paused) tracker.start(audio.currentTime, now());
    schedule();
  });
  for (const type of ['pause', 'ended']) {
    on(audio, type, () => {
      if (tracker.tracking && !audio.seeking) tracker.advance(audio.currentTime, audio.playbackRate, now());
      tracker.stop();
      updatePlayState();
      schedule();
      saveCoverage();
    });
  }
  on(audio, 'ratechange', () => {
    if (tracker.tracking) tracker.advance(audio.currentTime, audio.playbackRate, now());
    audio.preservesPitch = true;
    if (RATES.includes(audio.playbackRate)) {
      rate = audio.playbackRate;
      speed.value = String(rate);
    }
  });
  on(audio, 'emptied', () => tracker.stop());
  on(audio, 'error', () => {
    tracker.stop();
    updatePlayState();
    // A recording that failed to load already says why; its audio failing too is no news.
    if (!destroyed && root.dataset.state !== 'error') showAlert('audio', t('player.audio_error'));
  });

  // --- controls
  on(playToggle, 'click', togglePlay);
  on(back5, 'click', () => jump(-JUMP_S));
  on(fwd5, 'click', () => jump(JUMP_S));
  on(speed, 'change', () => setRate(Number(speed.value)));
  on(skipBox, 'change', () => {
    skipSilence = skipBox.checked;
    updateNotes();
    rebuild();
  });

  // Keyboard shortcuts, for the whole document while the player is mounted.
  let spaceHandled = false;
  function onKeyDown(e) {
    if (opts.keyboard === false || e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
    if (isTyping(e.target) || !root.isConnected) return;
    switch (e.key) {
      case ' ':
      case 'Spacebar':
        if (!e.repeat) togglePlay();
        spaceHandled = true;
        break;
      case 'ArrowLeft':
        jump(-JUMP_S);
        break;
      case 'ArrowRight':
        jump(JUMP_S);
        break;
      case '[':
        stepRate(-1);
        break;
      case ']':
        stepRate(1);
        break;
      case 'Home':
      case 'End':
        if (e.target !== canvas) return;
        seek(e.key === 'Home' ? 0 : duration());
        break;
      default:
        return;
    }
    e.preventDefault();
  }
  function onKeyUp(e) {
    // A focused button or checkbox acts on the key-up of a space: the space already played or paused.
    if ((e.key === ' ' || e.key === 'Spacebar') && spaceHandled) {
      spaceHandled = false;
      e.preventDefault();
    }
  }
  on(document, 'keydown', onKeyDown);
  on(document, 'keyup', onKeyUp);

  // Waveform: click or drag to seek; hover shows the time under the pointer.
  function timeAt(e) {
    const rect = canvas.getBoundingClientRect();
    if (rect.width <= 0) return 0;
    return clamp((e.clientX - rect.left) / rect.width, 0, 1) * duration();
  }
  function showHover(time, e) {
    hoverTime = time;
    if (time === null) {
      hoverLabel.hidden = true;
    } else {
      const rect = waveWrap.getBoundingClientRect();
      hoverLabel.textContent = formatClock(time);
      hoverLabel.style.left = `${clamp(e.clientX - rect.left, 0, rect.width)}px`;
      hoverLabel.hidden = false;
    }
    schedule();
  }
  on(canvas, 'pointerdown', (e) => {
    if (e.button !== 0 || !duration()) return;
    e.preventDefault();
    canvas.focus({ preventScroll: true });
    canvas.setPointerCapture?.(e.pointerId);
    drag = { pointerId: e.pointerId, time: timeAt(e) };
    showHover(drag.time, e);
  });
  on(canvas, 'pointermove', (e) => {
    if (drag && e.pointerId === drag.pointerId) drag.time = timeAt(e);
    if (e.pointerType === 'mouse' || drag) showHover(timeAt(e), e);
  });
  on(canvas, 'pointerup', (e) => {
    if (!drag || e.pointerId !== drag.pointerId) return;
    const target = timeAt(e);
    drag = null;
    seek(target);
    if (e.pointerType !== 'mouse') showHover(null);
  });
  for (const type of ['pointercancel', 'lostpointercapture']) {
    on(canvas, type, () => {
      if (!drag) return;
      drag = null;
      showHover(null);
    });
  }
  on(canvas, 'pointerleave', () => {
    if (!drag) showHover(null);
  });

  // --- drawing
  const ctx = canvas.getContext('2d');
  let layers = null; // {base, played, width, height, dpr}
  let frame = null;

  function labels() {
    return peaks?.labels ?? labelsFromLayout(rec);
  }

  function rebuild() {
    layers = null;
    schedule();
  }

  function layout() {
    const lanes = labels().length;
    const laneH = LANE_H[lanes] ?? 56;
    const height = TOP + lanes * laneH + BOTTOM;
    return { lanes, laneH, height };
  }

  function positionLabels() {
    const { laneH } = layout();
    laneLabels.replaceChildren(...labels().map((label, i) => {
      const el = h('span', { class: `lane-label lane-${laneColour(label, i)}` }, laneLabel(label));
      el.style.top = `${TOP + i * laneH + 3}px`;
      return el;
    }));
  }

  function ensureLayers() {
    const width = Math.round(canvas.clientWidth);
    const { height } = layout();
    const dpr = window.devicePixelRatio || 1;
    if (canvas.style.height !== `${height}px`) canvas.style.height = `${height}px`;
    if (width <= 0) return null;
    if (layers && layers.width === width && layers.height === height && layers.dpr === dpr) return layers;
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
    layers = {
      width, height, dpr,
      base: paintLayer(width, height, dpr, false),
      played: paintLayer(width, height, dpr, true),
    };
    return layers;
  }

  /** The static picture: lanes, talk, waveform, overtalk, silences, comment markers. */
  function paintLayer(width, height, dpr, played) {
    const layer = document.createElement('canvas');
    layer.width = Math.round(width * dpr);
    layer.height = Math.round(height * dpr);
    const g = layer.getContext('2d');
    g.scale(dpr, dpr);
    const d = duration();
    const { lanes, laneH } = layout();
    const names = labels();
    const xOf = (s) => (d > 0 ? (s / d) * width : 0);
    const span = ([s, e], y, hgt) => {
      const x0 = xOf(s);
      g.fillRect(x0, y, Math.max(1, xOf(e) - x0), hgt);
    };
    const talkOf = (i) => {
      if (!analysis) return [];
      const byLabel = analysis.channels.find((c) => c.label === names[i]);
      return (byLabel ?? (analysis.channels.length === lanes ? analysis.channels[i] : null))?.talk ?? [];
    };

    for (let i = 0; i < lanes; i += 1) {
      const y0 = TOP + i * laneH;
      const mid = y0 + laneH / 2;
      const amp = laneH / 2 - 4;
      const color = laneColour(names[i], i);
      g.fillStyle = COLORS.laneBg[color];
      g.fillRect(0, y0, width, laneH);
      if (played) {
        g.fillStyle = COLORS.playedTint;
        g.fillRect(0, y0, width, laneH);
      }
      g.fillStyle = COLORS.talk[color];
      for (const iv of talkOf(i)) span(iv, y0, laneH);
      g.fillStyle = COLORS.centre;
      g.fillRect(0, mid - 0.5, width, 1);
      if (peaks && d > 0) {
        const data = peaks.lanes[i] ?? [];
        const colsPerSecond = peaks.rate / peaks.spp;
        g.fillStyle = played ? COLORS.played[color] : COLORS.lane[color];
        const step = 1 / dpr;
        for (let x = 0; x < width; x += step) {
          let c0 = Math.floor((x / width) * d * colsPerSecond);
          let c1 = Math.floor(((x + step) / width) * d * colsPerSecond);
          c0 = clamp(c0, 0, peaks.columns);
          c1 = clamp(Math.max(c1, c0 + 1), 0, peaks.columns);
          if (c0 >= c1) continue;
          let lo = 127;
          let hi = -127;
          for (let c = c0; c < c1; c += 1) {
            const mn = data[2 * c];
            const mx = data[2 * c + 1];
            if (mn < lo) lo = mn;
            if (mx > hi) hi = mx;
          }
          if (hi < lo) continue;
          const top = mid - (clamp(hi, -127, 127) / 127) * amp;
          const bottom = mid - (clamp(lo, -127, 127) / 127) * amp;
          g.fillRect(x, top, step, Math.max(step, bottom - top));
        }
      }
      if (i > 0) {
        g.fillStyle = COLORS.separator;
        g.fillRect(0, y0, width, 1);
      }
    }

    const lanesTop = TOP;
    const lanesH = lanes * laneH;
    if (analysis) {
      if (skipSilence) {
        g.fillStyle = COLORS.skippable;
        for (const iv of silences) span(iv, lanesTop, lanesH);
      }
      g.fillStyle = COLORS.overtalk;
      for (const iv of analysis.overtalk) span(iv, lanesTop, lanesH);
      g.fillStyle = COLORS.overtalkBar;
      for (const iv of analysis.overtalk) span(iv, lanesTop, 3);
      if (analysis.longestSilence) {
        // Hatched, with a bracket along the bottom of the lanes.
        const [s, e] = analysis.longestSilence;
        const x0 = xOf(s);
        const x1 = Math.max(x0 + 1, xOf(e));
        g.save();
        g.beginPath();
        g.rect(x0, lanesTop, x1 - x0, lanesH);
        g.clip();
        g.strokeStyle = COLORS.silence;
        g.lineWidth = 1;
        g.globalAlpha = 0.35;
        for (let x = x0 - lanesH; x < x1; x += 7) {
          g.moveTo(x, lanesTop + lanesH);
          g.lineTo(x + lanesH, lanesTop);
        }
        g.stroke();
        g.restore();
        g.fillStyle = COLORS.silence;
        g.fillRect(x0, lanesTop + lanesH - 3, x1 - x0, 3);
      }
    }

    if (showComments && d > 0) {
      g.fillStyle = COLORS.comment;
      for (const c of comments) {
        const x = xOf(c.at_ms / 1000);
        g.beginPath();
        g.moveTo(x - 4, 1);
        g.lineTo(x + 4, 1);
        g.lineTo(x, TOP - 1);
        g.closePath();
        g.fill();
        g.fillRect(x - 0.5, TOP, 1, lanesH);
      }
    }
    return layer;
  }

  function draw() {
    const L = ensureLayers();
    if (!L) return;
    const { width, height, dpr } = L;
    const d = duration();
    const xOf = (s) => (d > 0 ? (s / d) * width : 0);
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(L.base, 0, 0);
    const x = xOf(audio.currentTime);
    const px = Math.round(x * dpr);
    if (px > 0) ctx.drawImage(L.played, 0, 0, px, canvas.height, 0, 0, px, canvas.height);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);

    // Listened strip.
    const stripY = height - BOTTOM + 2;
    ctx.fillStyle = COLORS.notListened;
    ctx.fillRect(0, stripY, width, BOTTOM - 2);
    ctx.fillStyle = COLORS.listened;
    for (const [s, e] of coverage().intervals) {
      const x0 = xOf(s);
      ctx.fillRect(x0, stripY, Math.max(1, xOf(e) - x0), BOTTOM - 2);
    }

    if (hoverTime !== null) {
      ctx.fillStyle = 'rgba(31, 41, 51, 0.35)';
      ctx.fillRect(xOf(hoverTime) - 0.5, TOP, 1, height - TOP - BOTTOM);
    }
    if (drag) {
      ctx.fillStyle = COLORS.preview;
      ctx.fillRect(xOf(drag.time) - 1, 0, 2, height);
    }
    ctx.fillStyle = COLORS.playhead;
    ctx.fillRect(Math.min(width - 2, Math.max(0, x - 1)), 0, 2, height);
  }

  function schedule() {
    if (frame !== null || destroyed) return;
    frame = requestAnimationFrame(() => {
      frame = null;
      if (destroyed) return;
      tick();
      draw();
      if ((!audio.paused && !audio.ended) || drag) schedule();
    });
  }

  const resizeObserver = new ResizeObserver(() => rebuild());
  resizeObserver.observe(waveWrap);

  // --- comments
  function sortComments() {
    comments.sort((a, b) => a.at_ms - b.at_ms || String(a.created_at).localeCompare(String(b.created_at))
      || String(a.id).localeCompare(String(b.id)));
  }

  function renderComments() {
    if (!commentsPanel) return;
    sortComments();
    commentList.replaceChildren(...comments.map((c) => {
      const created = formatDateTime(c.created_at);
      const time = formatClock(c.at_ms / 1000);
      return h('li', { class: 'comment' },
        h('button', {
          type: 'button', class: 'comment-item', 'data-at-ms': c.at_ms, 'data-comment-id': c.id,
          title: t('player.comment_jump', { time }),
          onclick: () => seek(c.at_ms / 1000),
        },
        h('span', { class: 'comment-time tabular' }, time),
        h('span', { class: 'comment-body' },
          h('span', { class: 'comment-text' }, String(c.text ?? '')),
          h('span', { class: 'comment-meta muted' },
            orNone(c.author_name || c.author), ' · ',
            h('time', { datetime: c.created_at, title: created.title }, created.text)),
        )),
      );
    }));
    commentStatus.textContent = comments.length ? '' : t('player.comments_empty');
    commentStatus.hidden = comments.length > 0;
    rebuild();
  }

  function syncCommentForm() {
    const text = commentText.value.trim();
    if (!text) pinnedAt = null;
    else if (pinnedAt === null) pinnedAt = audio.currentTime;
    commentAt.textContent = t('player.comment_at', { time: formatClock(pinnedAt ?? audio.currentTime) });
    commentAdd.disabled = !text || commentForm.dataset.busy === 'true';
  }

  if (commentsPanel) {
    on(commentText, 'input', syncCommentForm);
    on(commentForm, 'submit', async (e) => {
      e.preventDefault();
      const text = commentText.value.trim();
      if (!text || commentForm.dataset.busy === 'true') return;
      const atMs = Math.round((pinnedAt ?? audio.currentTime) * 1000);
      commentForm.dataset.busy = 'true';
      commentAdd.disabled = true;
      commentAdd.textContent = t('player.comment_adding');
      commentError.hidden = true;
      try {
        const created = await api('POST', `${base}/comments`, { at_ms: atMs, text }, { signal: life.signal });
        if (destroyed) return;
        if (created && typeof created === 'object') {
          comments = comments.filter((c) => c.id !== created.id).concat([created]);
        }
        commentText.value = '';
        renderComments();
      } catch (err) {
        if (isAbort(err) || destroyed) return;
        commentError.textContent = `${t('player.comment_add_error')} ${errorMessage(err)}`;
        commentError.hidden = false;
      } finally {
        if (!destroyed) {
          delete commentForm.dataset.busy;
          commentAdd.textContent = t('player.comment_add');
          syncCommentForm();
        }
      }
    });
  }

  // --- loading
  function renderFacts() {
    const started = formatDateTime(rec.started_at);
    const layoutKey = `player.layout.${rec.channel_layout}`;
    const fact = (key, ...value) => h('div', { class: 'fact' }, h('dt', null, t(key)), h('dd', null, ...value));
    facts.replaceChildren(
      h('h1', null, t('player.heading', { call_id: orNone(rec.call_id) })),
      h('dl', { class: 'facts' },
        fact('player.fact.agent', h('span', { class: 'agent-name' }, orNone(rec.agent_name)), ' ',
          h('span', { class: 'muted' }, `(${orNone(rec.agent)})`)),
        fact('player.fact.started', h('time', { datetime: rec.started_at, title: started.title }, started.text)),
        fact('player.fact.duration', h('span', { class: 'tabular' },
          Number.isFinite(rec.duration_ms) ? totalClock(rec.duration_ms / 1000) : t('common.none'))),
        fact('player.fact.codec', orNone(rec.codec)),
        fact('player.fact.format', formatAudio(rec.sample_rate, rec.channels),
          hasKey(layoutKey) ? ` · ${t(layoutKey)}` : ''),
        rec.damaged
          ? fact('player.fact.status',
            h('span', { class: 'badge badge-damaged', 'data-testid': 'badge-damaged' }, t('status.damaged')),
            ' ', h('span', { class: 'damage-reason' }, rec.damage_reason || t('status.damaged_no_reason')))
          : null,
      ),
    );
  }

  function computeSilences() {
    const d = duration();
    if (!analysis || !(d > 0)) {
      silences = [];
      return;
    }
    silences = gaps(analysis.channels.flatMap((c) => c.talk), d, SKIP_MIN_S);
  }

  function updateNotes() {
    const notes = [];
    if (peaks === false) notes.push(t('player.waveform_unavailable'));
    if (analysis === false) notes.push(t('player.analysis_unavailable'));
    if (peaks === null || analysis === null) notes.push(t('player.waveform_loading'));
    const status = (v) => (v === null ? 'loading' : v === false ? 'unavailable' : 'loaded');
    root.dataset.peaks = status(peaks);
    root.dataset.analysis = status(analysis);
    waveNote.textContent = notes.join(' ');
    waveNote.hidden = notes.length === 0;
    const a = analysis || null;
    legendTalk.hidden = !a;
    legendOvertalk.hidden = !a || a.overtalk.length === 0;
    legendSilence.hidden = !a?.longestSilence;
    legendSkippable.hidden = !a || !skipSilence;
    skipBox.disabled = !a;
    skipLabel.classList.toggle('is-disabled', !a);
  }

  async function load(path) {
    try {
      return { ok: true, data: await api('GET', path, undefined, { signal: life.signal }) };
    } catch (err) {
      return { ok: false, err };
    }
  }

  async function loadRecording() {
    const res = await load(base);
    if (destroyed) return null;
    if (!res.ok) {
      if (isAbort(res.err)) return null;
      root.dataset.state = 'error';
      showAlert('recording', errorMessage(res.err));
      peaks = false;
      analysis = false;
      updateNotes();
      // 404: the page has nothing to play.
      if (res.err instanceof ApiError && res.err.status === 404) {
        clearAlert('audio');
        audio.removeAttribute('src');
        root.querySelector('.player-card').hidden = true;
        if (commentsPanel) commentsPanel.hidden = true;
      }
      return null;
    }
    rec = res.data;
    if (opts.facts) renderFacts();
    root.dataset.state = 'ready';
    updateDuration();
    positionLabels();
    opts.onRecording?.(rec);
    return rec;
  }

  async function loadPeaks() {
    const res = await load(`${base}/peaks`);
    if (destroyed || (!res.ok && isAbort(res.err))) return;
    peaks = res.ok ? readPeaks(res.data) ?? false : false;
    if (!res.ok) console.warn('waveform peaks unavailable', res.err);
    positionLabels();
    updateNotes();
    rebuild();
  }

  async function loadAnalysis() {
    const res = await load(`${base}/analysis`);
    if (destroyed || (!res.ok && isAbort(res.err))) return;
    analysis = res.ok ? readAnalysis(res.data) ?? false : false;
    if (!res.ok) console.warn('talk analysis unavailable', res.err);
    computeSilences();
    updateNotes();
    rebuild();
  }

  async function loadCoverage() {
    const res = await load(`${base}/coverage`);
    if (destroyed || (!res.ok && isAbort(res.err))) return;
    if (res.ok) {
      if (Array.isArray(res.data?.intervals)) tracker.addKnown(res.data.intervals.filter(isInterval));
      coverageLabel.dataset.sync = 'saved';
    } else {
      console.warn('listen coverage unavailable', res.err);
      if (res.err instanceof ApiError && res.err.status === 403) {
        coverageEnabled = false;
        coverageLabel.hidden = true;
        legendListened.hidden = true;
      }
    }
    updateCoverage();
    schedule();
  }

  async function loadComments() {
    if (!commentsPanel) return;
    const res = await load(`${base}/comments`);
    if (destroyed || (!res.ok && isAbort(res.err))) return;
    if (res.ok) {
      comments = Array.isArray(res.data?.items) ? res.data.items.filter((c) => Number.isFinite(c?.at_ms)) : [];
      renderComments();
    } else if (res.err instanceof ApiError && res.err.status === 403) {
      commentsPanel.hidden = true;
      legendComment.hidden = true;
    } else {
      commentStatus.textContent = `${t('player.comments_error')} ${errorMessage(res.err)}`;
    }
  }

  // --- page lifecycle: save what was heard when the page goes away
  /** The page goes away: what was heard and may not be saved yet is left for the next one. */
  function leaveUnsaved() {
    if (coverageEnabled && tracker.version !== savedVersion) writeUnsaved(heardKey, coverage().intervals);
  }

  on(window, 'pagehide', () => {
    if (tracker.tracking) tracker.advance(audio.currentTime, audio.playbackRate, now());
    leaveUnsaved();
    saveCoverage({ keepalive: true });
  });
  on(document, 'visibilitychange', () => {
    if (document.visibilityState === 'hidden') saveCoverage({ keepalive: true });
  });
  const timer = setInterval(() => saveCoverage(), SYNC_EVERY_MS);

  function destroy() {
    if (destroyed) return;
    if (tracker.tracking && !audio.seeking) tracker.advance(audio.currentTime, audio.playbackRate, now());
    tracker.stop();
    leaveUnsaved();
    saveCoverage({ keepalive: true });
    destroyed = true;
    clearInterval(timer);
    if (frame !== null) cancelAnimationFrame(frame);
    resizeObserver.disconnect();
    life.abort();
    timeListeners.clear();
    audio.pause();
    audio.removeAttribute('src');
    audio.load();
    root.remove();
  }
  opts.signal?.addEventListener('abort', destroy, { once: true });

  // --- start
  setRate(rate);
  skipBox.checked = skipSilence;
  updatePlayState();
  updateNotes();
  positionLabels();
  syncCommentForm();
  audio.src = `${base}/audio`;
  const ready = loadRecording().then((loaded) => {
    if (loaded) {
      loadPeaks();
      loadAnalysis();
      loadCoverage();
      loadComments();
    }
    return loaded;
  });

  return {
    element: root,
    audio,
    /** Resolves to the recording JSON once loaded (null when it could not be). */
    ready,
    currentTime: () => audio.currentTime,
    duration,
    seek,
    play: () => audio.play(),
    pause: () => audio.pause(),
    /** Calls `cb(seconds)` whenever the position changes; returns a function that unsubscribes. */
    onTime(cb) {
      timeListeners.add(cb);
      return () => timeListeners.delete(cb);
    },
    /** What this user has listened to: {duration_s, listened_s, fraction, intervals}. */
    coverage,
    /** Saves the coverage now (also done every 5 s and on pause, end and page hide). */
    saveCoverage: () => saveCoverage(),
    /** Position and settings, for a later mount to resume from. */
    snapshot: () => ({
      time: audio.currentTime, rate, skipSilence, playing: !audio.paused && !audio.ended,
      intervals: coverage().intervals,
    }),
    destroy,
  };
}
