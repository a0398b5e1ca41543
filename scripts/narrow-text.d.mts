/** The regular expression source of one-column text (see narrow-text.mjs). */
export declare const NARROW_TEXT_SOURCE: string;
