// The launcher's screen flow as an explicit state machine: every screen is a state, every way of
// leaving it is an event, and nothing else can change the screen. main.js renders the state it is
// told about; a transition that is not in the table is refused (and logged), so the flow stays
// exactly what this table says.
//
//   const m = createMachine((to, from, event, payload) => render(to, payload));
//   m.send('booted');           // BOOT → CONNECT_CONTROLLER
//   m.can('openGame');          // false unless in HUB

/** state → { event → next state } */
export const TRANSITIONS = Object.freeze({
  // `?api=` asked to repoint the launcher: nothing runs until the person confirms or refuses (both
  // reload the page), so no event leaves this state.
  CONFIRM_API: {},
  BOOT: { booted: 'CONNECT_CONTROLLER' },
  CONNECT_CONTROLLER: { continue: 'SELECT_USER' },
  SELECT_USER: {
    signIn: 'LOGIN', // a remembered profile without a usable refresh token (or "+" on a new server)
    pair: 'PAIR', // "+": sign in with a phone first
    resumed: 'HUB', // refresh token still valid, one org (or the remembered one)
    chooseOrg: 'ORG_SELECT', // refresh token still valid, several orgs
    back: 'CONNECT_CONTROLLER',
  },
  LOGIN: {
    signedIn: 'HUB', // one org, or the first user of a new server (straight to Home)
    chooseOrg: 'ORG_SELECT',
    pair: 'PAIR',
    back: 'SELECT_USER',
  },
  // Device pairing (RFC 8628): a code and a QR code, approved on a signed-in phone.
  PAIR: {
    signedIn: 'HUB', // approved with an org chosen on the phone, or the user has one org
    chooseOrg: 'ORG_SELECT',
    usePassword: 'LOGIN',
    back: 'SELECT_USER',
  },
  ORG_SELECT: { orgChosen: 'HUB', back: 'SELECT_USER', switchUser: 'SELECT_USER', signOut: 'SELECT_USER' },
  HUB: { openGame: 'GAME', switchUser: 'SELECT_USER', switchOrg: 'ORG_SELECT', signOut: 'SELECT_USER', sessionLost: 'LOGIN' },
  GAME: { play: 'PLAY', back: 'HUB', switchUser: 'SELECT_USER', switchOrg: 'ORG_SELECT', signOut: 'SELECT_USER', sessionLost: 'LOGIN' },
  // A live session is ended (or left to lapse) before anyone else takes the couch.
  PLAY: { ended: 'GAME', back: 'GAME', sessionLost: 'LOGIN' },
});

export const STATES = Object.freeze(Object.keys(TRANSITIONS));

/**
 * @param {(to: string, from: string, event: string, payload: unknown) => void} onEnter
 */
export function createMachine(onEnter, initial = 'BOOT') {
  let state = initial;
  return {
    get state() {
      return state;
    },
    can(event) {
      return Boolean(TRANSITIONS[state]?.[event]);
    },
    /** Returns true when the event moved the machine. */
    send(event, payload) {
      const to = TRANSITIONS[state]?.[event];
      if (!to) {
        console.warn(`[launcher] ignored event "${event}" in ${state}`);
        return false;
      }
      const from = state;
      state = to;
      onEnter(to, from, event, payload);
      return true;
    },
  };
}
