// Message catalogs and the t() helper. Every user-visible string in the app
// goes through t(); both catalogs must hold exactly the same keys (see missingKeys()).

export const LANGS = ['en', 'zh-CN'];
const STORAGE_KEY = 'callgrade.lang';

export const catalogs = {
  en: {
    'app.name': 'callgrade',
    'app.loading': 'Loading…',
    'lang.label': 'Language',
    'lang.en': 'English',
    'lang.zh-CN': '简体中文',
    'nav.main': 'Main navigation',
    'nav.recordings': 'Recordings',
    'header.logout': 'Log out',

    'role.supervisor': 'Supervisor',
    'role.inspector': 'QA inspector',
    'role.team_lead': 'Team lead',
    'role.agent': 'Agent',
    'role.panel': 'Appeal panel',

    'login.title': 'Sign in',
    'login.subtitle': 'Call recording quality review',
    'login.username': 'Username',
    'login.password': 'Password',
    'login.submit': 'Sign in',
    'login.submitting': 'Signing in…',
    'login.session_expired': 'Your session has ended. Please sign in again.',

    'error.invalid_credentials': 'Incorrect username or password.',
    'error.too_many_attempts': 'Too many sign-in attempts. Please try again later.',
    'error.unauthenticated': 'Please sign in.',
    'error.network': 'Cannot reach the server. Check your connection and try again.',
    'error.unknown': 'Something went wrong (HTTP {status}).',
    'error.retry_after': 'Try again in {seconds} s.',
    'error.page': 'This page could not be displayed.',

    'common.retry': 'Try again',
    'common.none': '—',

    'notfound.title': 'Page not found',
    'notfound.back': 'Back to recordings',

    'recordings.title': 'Recordings',
    'recordings.filters': 'Filters',
    'recordings.table_caption': 'Call recordings',
    'recordings.loading': 'Loading recordings…',
    'recordings.loading_more': 'Loading…',
    'recordings.load_more': 'Load more',
    'recordings.empty': 'No recordings match these filters.',
    'recordings.error': 'Could not load recordings.',
    'recordings.shown': 'Showing {count}',
    'recordings.shown_more': 'Showing {count}, more available',

    'filter.agent': 'Agent',
    'filter.all_agents': 'All agents',
    'filter.no_team': 'No team',
    'filter.month': 'Month',
    'filter.agents_error': 'Could not load the agent list.',

    'col.started_at': 'Start time',
    'col.call_id': 'Call ID',
    'col.agent': 'Agent',
    'col.team': 'Team',
    'col.direction': 'Direction',
    'col.queue': 'Queue',
    'col.customer': 'Customer number',
    'col.duration': 'Duration',
    'col.codec': 'Codec',
    'col.format': 'Sample rate / channels',
    'col.status': 'Status',

    'direction.inbound': 'Inbound',
    'direction.outbound': 'Outbound',

    'status.damaged': 'Damaged',
    'status.damaged_no_reason': 'No damage reason was recorded.',
    'status.short_call': 'Short call',

    'audio.khz': '{value} kHz',
    'audio.mono': 'mono',
    'audio.stereo': 'stereo',
    'audio.channels': '{count} channels',

    'recordings.open': 'Open the player',

    'player.title': 'Recording',
    'player.heading': 'Call {call_id}',
    'player.back': '← Recordings',
    'player.fact.agent': 'Agent',
    'player.fact.started': 'Start time',
    'player.fact.duration': 'Duration',
    'player.fact.codec': 'Codec',
    'player.fact.format': 'Format',
    'player.fact.status': 'Status',
    'player.layout.mono': 'both parties on one channel',
    'player.layout.agent_left': 'agent left, customer right',
    'player.layout.agent_right': 'customer left, agent right',
    'player.waveform': 'Waveform: click or drag to seek',
    'player.waveform_loading': 'Loading the waveform…',
    'player.waveform_unavailable': 'The waveform is not available.',
    'player.analysis_unavailable': 'The talk analysis is not available, so silences cannot be skipped.',
    'player.lane.agent': 'Agent',
    'player.lane.customer': 'Customer',
    'player.lane.mono': 'Both parties',
    'player.legend.talk': 'Talking',
    'player.legend.overtalk': 'Overtalk',
    'player.legend.silence': 'Longest silence',
    'player.legend.skippable': 'Skipped silence',
    'player.legend.listened': 'Listened',
    'player.legend.comment': 'Comment',
    'player.controls': 'Playback',
    'player.play': 'Play',
    'player.pause': 'Pause',
    'player.play_hint': 'Play or pause (Space)',
    'player.back5': '−5 s',
    'player.back5_label': 'Back 5 seconds (←)',
    'player.fwd5': '+5 s',
    'player.fwd5_label': 'Forward 5 seconds (→)',
    'player.position': 'Position',
    'player.position_value': '{time} of {duration}',
    'player.speed': 'Speed',
    'player.speed_hint': 'Playback speed ([ slower, ] faster)',
    'player.rate': '{rate}×',
    'player.skip_silence': 'Skip silence',
    'player.skip_silence_hint': 'Jump over pauses of {seconds} s or more where nobody talks',
    'player.listened': 'Listened {percent}',
    'player.listened_detail': 'Listened to {listened} of {duration}',
    'player.coverage_unsaved': 'Listening progress could not be saved yet.',
    'player.shortcuts': 'Keys: Space play/pause · ← → 5 s back/forward · [ ] slower/faster',
    'player.audio_error': 'The audio could not be played.',
    'player.play_blocked': 'The browser blocked playback. Press Play again.',
    'player.comments': 'Comments',
    'player.comments_loading': 'Loading comments…',
    'player.comments_empty': 'No comments yet.',
    'player.comments_error': 'Could not load the comments.',
    'player.comment_label': 'New comment',
    'player.comment_placeholder': 'Comment at the current time…',
    'player.comment_at': 'at {time}',
    'player.comment_add': 'Add',
    'player.comment_adding': 'Adding…',
    'player.comment_add_error': 'Could not add the comment.',
    'player.comment_jump': 'Jump to {time}',

    'error.not_found': 'Not found.',
    'error.forbidden': 'You are not allowed to do this.',
  },

  'zh-CN': {
    'app.name': '话务质检',
    'app.loading': '正在加载…',
    'lang.label': '语言',
    'lang.en': 'English',
    'lang.zh-CN': '简体中文',
    'nav.main': '主导航',
    'nav.recordings': '录音列表',
    'header.logout': '退出登录',

    'role.supervisor': '主管',
    'role.inspector': '质检员',
    'role.team_lead': '班长',
    'role.agent': '坐席',
    'role.panel': '考核小组',

    'login.title': '登录',
    'login.subtitle': '通话录音质检平台',
    'login.username': '用户名',
    'login.password': '密码',
    'login.submit': '登录',
    'login.submitting': '正在登录…',
    'login.session_expired': '登录已失效，请重新登录。',

    'error.invalid_credentials': '用户名或密码错误。',
    'error.too_many_attempts': '登录尝试次数过多，请稍后再试。',
    'error.unauthenticated': '请先登录。',
    'error.network': '无法连接服务器，请检查网络后重试。',
    'error.unknown': '出现错误（HTTP {status}）。',
    'error.retry_after': '请在 {seconds} 秒后重试。',
    'error.page': '页面无法显示。',

    'common.retry': '重试',
    'common.none': '—',

    'notfound.title': '页面不存在',
    'notfound.back': '返回录音列表',

    'recordings.title': '通话录音',
    'recordings.filters': '筛选条件',
    'recordings.table_caption': '通话录音列表',
    'recordings.loading': '正在加载录音…',
    'recordings.loading_more': '正在加载…',
    'recordings.load_more': '加载更多',
    'recordings.empty': '没有符合筛选条件的录音。',
    'recordings.error': '录音加载失败。',
    'recordings.shown': '已显示 {count} 条',
    'recordings.shown_more': '已显示 {count} 条，还有更多',

    'filter.agent': '坐席',
    'filter.all_agents': '全部坐席',
    'filter.no_team': '未分配班组',
    'filter.month': '月份',
    'filter.agents_error': '坐席列表加载失败。',

    'col.started_at': '开始时间',
    'col.call_id': '通话编号',
    'col.agent': '坐席',
    'col.team': '班组',
    'col.direction': '呼叫方向',
    'col.queue': '队列',
    'col.customer': '客户号码',
    'col.duration': '时长',
    'col.codec': '编码格式',
    'col.format': '采样率 / 声道',
    'col.status': '状态',

    'direction.inbound': '呼入',
    'direction.outbound': '呼出',

    'status.damaged': '已损坏',
    'status.damaged_no_reason': '未记录损坏原因。',
    'status.short_call': '短通话',

    'audio.khz': '{value} kHz',
    'audio.mono': '单声道',
    'audio.stereo': '立体声',
    'audio.channels': '{count} 声道',

    'recordings.open': '打开播放器',

    'player.title': '录音回放',
    'player.heading': '通话 {call_id}',
    'player.back': '← 返回录音列表',
    'player.fact.agent': '坐席',
    'player.fact.started': '开始时间',
    'player.fact.duration': '时长',
    'player.fact.codec': '编码格式',
    'player.fact.format': '音频格式',
    'player.fact.status': '状态',
    'player.layout.mono': '双方同一声道',
    'player.layout.agent_left': '坐席左声道，客户右声道',
    'player.layout.agent_right': '客户左声道，坐席右声道',
    'player.waveform': '波形图：点击或拖动以定位',
    'player.waveform_loading': '正在加载波形…',
    'player.waveform_unavailable': '波形图不可用。',
    'player.analysis_unavailable': '通话分析不可用，无法跳过静音。',
    'player.lane.agent': '坐席',
    'player.lane.customer': '客户',
    'player.lane.mono': '双方',
    'player.legend.talk': '说话',
    'player.legend.overtalk': '抢话',
    'player.legend.silence': '最长静音',
    'player.legend.skippable': '跳过的静音',
    'player.legend.listened': '已听',
    'player.legend.comment': '评语',
    'player.controls': '播放控制',
    'player.play': '播放',
    'player.pause': '暂停',
    'player.play_hint': '播放或暂停（空格键）',
    'player.back5': '−5 秒',
    'player.back5_label': '后退 5 秒（←）',
    'player.fwd5': '+5 秒',
    'player.fwd5_label': '前进 5 秒（→）',
    'player.position': '播放位置',
    'player.position_value': '{time} / {duration}',
    'player.speed': '倍速',
    'player.speed_hint': '播放速度（[ 减速，] 加速）',
    'player.rate': '{rate}×',
    'player.skip_silence': '跳过静音',
    'player.skip_silence_hint': '跳过双方都不说话且不少于 {seconds} 秒的停顿',
    'player.listened': '已听 {percent}',
    'player.listened_detail': '已听 {listened} / {duration}',
    'player.coverage_unsaved': '收听进度暂未保存。',
    'player.shortcuts': '快捷键：空格 播放/暂停 · ← → 后退/前进 5 秒 · [ ] 减速/加速',
    'player.audio_error': '音频无法播放。',
    'player.play_blocked': '浏览器阻止了播放，请再次点击播放。',
    'player.comments': '评语',
    'player.comments_loading': '正在加载评语…',
    'player.comments_empty': '暂无评语。',
    'player.comments_error': '评语加载失败。',
    'player.comment_label': '新评语',
    'player.comment_placeholder': '在当前时间点添加评语…',
    'player.comment_at': '时间点 {time}',
    'player.comment_add': '添加',
    'player.comment_adding': '正在添加…',
    'player.comment_add_error': '评语添加失败。',
    'player.comment_jump': '跳转到 {time}',

    'error.not_found': '未找到。',
    'error.forbidden': '无权执行此操作。',
  },
};

/** Keys present in at least one catalog but missing from another; [] when complete. */
export function missingKeys() {
  const all = new Set(LANGS.flatMap((lang) => Object.keys(catalogs[lang])));
  return [...all].filter((key) => LANGS.some((lang) => !(key in catalogs[lang]))).sort();
}

function readStoredLang() {
  try {
    return globalThis.localStorage?.getItem(STORAGE_KEY) ?? null;
  } catch {
    // Storage can throw when disabled by privacy settings; fall back to detection.
    return null;
  }
}

export function detectLang() {
  const stored = readStoredLang();
  if (LANGS.includes(stored)) return stored;
  const nav = globalThis.navigator?.language ?? '';
  return nav.toLowerCase().startsWith('zh') ? 'zh-CN' : 'en';
}

let current = detectLang();
applyDocumentLang();

function applyDocumentLang() {
  if (typeof document !== 'undefined') document.documentElement.lang = current;
}

export function getLang() {
  return current;
}

export function setLang(lang) {
  if (!LANGS.includes(lang)) return;
  current = lang;
  try {
    globalThis.localStorage?.setItem(STORAGE_KEY, lang);
  } catch {
    // Not persisting is acceptable; the choice still applies for this page load.
  }
  applyDocumentLang();
}

export function hasKey(key) {
  return key in catalogs[current] || key in catalogs.en;
}

/** Translate `key`, replacing `{name}` placeholders from `params`. Unknown keys render as the key. */
export function t(key, params) {
  const template = catalogs[current][key] ?? catalogs.en[key] ?? key;
  if (!params) return template;
  return template.replace(/\{(\w+)\}/g, (match, name) =>
    Object.hasOwn(params, name) ? String(params[name]) : match,
  );
}
