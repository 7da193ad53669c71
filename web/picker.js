// People pickers: a search box over the people who may take a piece of work (the server's
// list for that work: re-graders of an appeal, graders of a pull, calibration participants),
// matched on name, username, team and role as one types, chosen with the mouse or the keys
// (↓ ↑ Enter, Escape closes). ARIA combobox pattern: the box keeps focus, the list says
// which option is active.
//
// A single picker's box holds the chosen username (what the forms send); a multiple picker
// keeps the chosen people as removable chips and empties its box after each choice.

import { api, h, orNone } from './common.js';
import { hasKey, t } from './i18n.js';

const roleLabel = (role) => (hasKey(`role.${role}`) ? t(`role.${role}`) : orNone(role));

/** Whether every word of `query` is in the person's name, username, team or role. */
export function matches(person, query) {
  const hay = [person.name, person.username, person.team, roleLabel(person.role), person.role]
    .filter(Boolean).join(' ').toLocaleLowerCase();
  return query.toLocaleLowerCase().split(/\s+/).filter(Boolean).every((word) => hay.includes(word));
}

let pickerSeq = 0;

/**
 * A people picker. `url`: the server's list of who may take the work; `multiple`: several
 * people (chips). Returns { element, input, value(), clear() }: `value()` is the chosen
 * username (single; the typed text when it names nobody, for the server to refuse clearly)
 * or the list of chosen usernames (multiple).
 */
export function personPicker({ id, url, signal, multiple = false, placeholder, describedBy, exclude = [] }) {
  const listId = `${id}-options`;
  const input = h('input', {
    id, type: 'text', role: 'combobox', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false',
    'aria-autocomplete': 'list', 'aria-expanded': 'false', 'aria-controls': listId,
    placeholder: placeholder ?? t('picker.placeholder'), 'aria-describedby': describedBy,
  });
  const list = h('ul', { id: listId, class: 'picker-options', role: 'listbox', hidden: true, 'aria-label': t('picker.options') });
  const chosenList = multiple ? h('ul', { id: `${id}-chosen`, class: 'picker-chosen', 'aria-label': t('picker.chosen') }) : null;
  const caption = multiple ? null : h('span', { class: 'picker-caption muted', id: `${id}-caption`, 'aria-live': 'polite' });
  const element = h('div', { class: 'picker' }, chosenList, input, list, caption);

  let people = [];
  let shown = [];
  let active = -1;
  const chosen = [];
  const seq = ++pickerSeq;

  const loaded = api('GET', url, undefined, { signal }).then((data) => {
    people = (Array.isArray(data?.items) ? data.items : []).filter((p) => !exclude.includes(p.username));
    if (document.activeElement === input) refresh();
  }).catch((err) => {
    if (err?.name !== 'AbortError') console.warn('picker list unavailable', err);
  });

  const optionId = (i) => `${id}-opt-${seq}-${i}`;

  function refresh() {
    const query = input.value.trim();
    shown = people.filter((p) => !chosen.includes(p.username) && matches(p, query));
    active = shown.length ? Math.min(Math.max(active, 0), shown.length - 1) : -1;
    list.replaceChildren(...(shown.length ? shown.map((p, i) => h('li', {
      id: optionId(i), role: 'option', class: `picker-option${i === active ? ' is-active' : ''}`,
      'aria-selected': String(i === active), 'data-username': p.username,
      // mousedown, not click: the box must not lose focus (and close the list) first.
      onmousedown: (e) => { e.preventDefault(); choose(p); },
    },
    h('span', { class: 'picker-name' }, p.name),
    h('span', { class: 'picker-meta muted' }, [p.username, p.team, roleLabel(p.role)].filter(Boolean).join(' · ')),
    )) : [h('li', { class: 'picker-empty muted', role: 'presentation' }, t('picker.nobody'))]));
    open(true);
  }

  function open(on) {
    list.hidden = !on;
    input.setAttribute('aria-expanded', String(on));
    if (on && active >= 0) input.setAttribute('aria-activedescendant', optionId(active));
    else input.removeAttribute('aria-activedescendant');
  }

  function describe(p) {
    return `${p.name} · ${[p.team, roleLabel(p.role)].filter(Boolean).join(' · ')}`;
  }

  function choose(p) {
    if (multiple) {
      chosen.push(p.username);
      chosenList.append(h('li', { class: 'picker-chip', 'data-username': p.username },
        h('span', null, p.name, ' ', h('span', { class: 'muted' }, p.username)),
        h('button', {
          type: 'button', class: 'btn btn-quiet picker-remove', 'aria-label': t('picker.remove', { name: p.name }),
          onclick: (e) => {
            chosen.splice(chosen.indexOf(p.username), 1);
            e.currentTarget.closest('li').remove();
            input.focus();
          },
        }, '×')));
      // The list closes (it would cover what follows); typing again reopens it.
      input.value = '';
      open(false);
    } else {
      input.value = p.username;
      caption.textContent = describe(p);
      open(false);
    }
    input.dispatchEvent(new Event('change', { bubbles: true }));
  }

  input.addEventListener('focus', () => { loaded.then(refresh); });
  input.addEventListener('input', () => {
    active = 0;
    if (caption) caption.textContent = '';
    refresh();
  });
  input.addEventListener('blur', () => open(false));
  input.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      if (list.hidden) { refresh(); return; }
      if (!shown.length) return;
      active = (active + (e.key === 'ArrowDown' ? 1 : -1) + shown.length) % shown.length;
      refresh();
      document.getElementById(optionId(active))?.scrollIntoView?.({ block: 'nearest' });
    } else if (e.key === 'Enter' && !list.hidden && active >= 0 && shown[active]) {
      // Enter picks the active option rather than submitting the form.
      e.preventDefault();
      choose(shown[active]);
    } else if (e.key === 'Escape' && !list.hidden) {
      e.preventDefault();
      e.stopPropagation();
      open(false);
    }
  });

  function value() {
    if (multiple) return [...chosen];
    const text = input.value.trim();
    if (people.some((p) => p.username === text)) return text;
    const found = people.filter((p) => matches(p, text));
    return text && found.length === 1 ? found[0].username : text;
  }

  function clear() {
    input.value = '';
    if (caption) caption.textContent = '';
    if (multiple) {
      chosen.length = 0;
      chosenList.replaceChildren();
    }
  }

  return { element, input, value, clear };
}
