/**
 * Passwords refused whatever the length policy: the most common choices from public breach
 * corpora (lower-cased; compared case-insensitively). Kept short on purpose: it is a floor, not a
 * strength meter.
 */
export const COMMON_PASSWORDS: ReadonlySet<string> = new Set([
  '123456', '123456789', '12345678', 'password', 'qwerty123', 'qwerty1', '111111', '12345',
  'secret', '123123', '1234567890', '1234567', '000000', 'qwerty', 'abc123', 'password1',
  'iloveyou', '11111111', 'dragon', 'monkey', 'letmein', 'welcome', 'admin', 'login',
  '123456789012', '1234567890123', '12345678910', '1234567891011', '111111111111', '000000000000',
  '123123123123', '121212121212', 'password1234', 'password12345', 'password123456', 'passw0rd1234',
  'password!123', 'p@ssw0rd1234', 'p@ssword1234', 'passwordpassword', 'password123!', 'qwerty123456',
  'qwertyuiop12', 'qwertyuiopas', 'qwertyuiopasdf', 'qwertyuiopasdfgh', 'qwertyuiopasdfghjkl',
  'asdfghjkl123', 'asdfghjklqwe', 'zxcvbnm12345', '1q2w3e4r5t6y', '1q2w3e4r5t6y7u', 'q1w2e3r4t5y6',
  '1qaz2wsx3edc', 'zaq12wsxcde3', 'abc123456789', 'abcdefghijkl', 'abcdef123456', 'iloveyou1234',
  'iloveyou123456', 'administrator', 'administrator1', 'admin1234567', 'adminadmin12', 'welcome12345',
  'welcome123456', 'letmein12345', 'changeme1234', 'changemeplease', 'trustno11234', 'football1234',
  'baseball1234', 'superman1234', 'starwars1234', 'sunshine1234', 'princess1234', 'michael12345',
  'shadow123456', 'master123456', 'monkey123456', 'dragon123456', 'computer1234', 'internet1234',
  'whatever1234', 'everything12', 'nothing12345', 'thequickbrownfox', 'correcthorsebatterystaple',
  'mypassword12', 'mypassword123', 'newpassword1', 'newpassword123', 'defaultpassword', 'couchsuite123',
  'couchsuite1234', 'stickydvr1234', 'edgeplane123', 'edgeplane1234', 'secret123456', 'secretpassword',
]);
