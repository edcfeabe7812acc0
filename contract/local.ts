/** Identifiers of the offline world (offline engine mocks, local runs): one fake AWS account. */
export const OFFLINE_ACCOUNT_ID = "123456789012";
